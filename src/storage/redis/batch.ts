/**
 * Coalescing of the reads and writes that start in one turn of the event loop, so that many concurrent
 * operations cost few Redis commands (one `MGET`, one write script per tenant) instead of one command
 * each. (The storage sends an operation that starts while no other is in flight at once, unqueued.)
 *
 * Order: operations are kept in the order they started. A flush sends maximal runs of one kind (reads,
 * then writes, then reads, ...) in that order over the same connection, so a read that started before a
 * write of the same key never sees it and one that started after always does. Within a run, operations
 * of one kind on different keys commute, so the run may be grouped freely (by hash slot, for instance).
 * An operation that is not batched must call {@link OpQueue.flush} before it sends its own command.
 */

/** One queued operation: its payload and how to settle its caller's promise. */
export interface QueuedOp<K extends string, P> {
  readonly kind: K
  readonly payload: P
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** Sends one run of queued operations of one kind; it settles every operation of the run. */
export type RunSender<K extends string, P> = (kind: K, run: readonly QueuedOp<K, P>[]) => void

/** An ordered queue of operations flushed on the next tick, or earlier on demand. */
export class OpQueue<K extends string, P> {
  #queue: QueuedOp<K, P>[] = []
  #scheduled = false
  readonly #send: RunSender<K, P>
  readonly #flushSoon = () => this.flush()

  constructor(send: RunSender<K, P>) {
    this.#send = send
  }

  /** Queues an operation; resolves with what the sender settles it with. */
  push(kind: K, payload: P): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind, payload, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        process.nextTick(this.#flushSoon)
      }
    })
  }

  /** Sends everything queued now, run by run, in order. */
  flush(): void {
    this.#scheduled = false
    const ops = this.#queue
    if (ops.length === 0) return
    this.#queue = []
    let start = 0
    while (start < ops.length) {
      const kind = ops[start]!.kind
      let end = start + 1
      while (end < ops.length && ops[end]!.kind === kind) end++
      const run = start === 0 && end === ops.length ? ops : ops.slice(start, end)
      try {
        this.#send(kind, run)
      } catch (error) {
        for (const op of run) op.reject(error)
      }
      start = end
    }
  }
}

/**
 * Splits a run into groups that may share one command (same hash slot), at most `limit` operations
 * each, keeping the run's order inside every group.
 */
export function groupRun<T extends { readonly payload: { readonly group: string } }>(
  run: readonly T[],
  limit: number,
): T[][] {
  const open = new Map<string, T[]>()
  const groups: T[][] = []
  for (const op of run) {
    let group = open.get(op.payload.group)
    if (group === undefined || group.length === limit) {
      group = []
      open.set(op.payload.group, group)
      groups.push(group)
    }
    group.push(op)
  }
  return groups
}
