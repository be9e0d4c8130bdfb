/**
 * Timeouts for many concurrent operations that share one duration, with one timer in all.
 *
 * A `setTimeout` + `clearTimeout` per command (what ioredis's `commandTimeout` does) costs about 10 µs
 * of CPU per command on a small VM, as much as the rest of the cache layer. Here every operation only
 * appends `{ deadline, settled }` to a queue. Because the duration is the same for all, deadlines are
 * in start order, so the queue's head always holds the earliest one: a single timer is armed for the
 * head's deadline; when it fires, settled heads are dropped, expired ones rejected, and the timer is
 * re-armed for the new head. With replies arriving in order, it fires about once per duration.
 */

/** One tracked operation. */
interface Pending {
  readonly deadline: number
  settled: boolean
  readonly reject: (error: Error) => void
}

/** Drop the consumed front of the queue once it is this long and more than half of the array. */
const COMPACT_AFTER = 1024

/** Rejects operations that have not settled `timeoutMs` after they started. */
export class Deadlines {
  #queue: Pending[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined
  readonly #fire = () => this.#expire()

  /**
   * @param timeoutMs how long an operation may take
   * @param timeoutError the error an operation that took too long is rejected with
   */
  constructor(
    readonly timeoutMs: number,
    private readonly timeoutError: () => Error,
  ) {}

  /**
   * `promise`'s outcome, or the timeout error if it has not settled within `timeoutMs`. A late
   * settlement is absorbed (it cannot reject anything any more).
   */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { deadline: performance.now() + this.timeoutMs, settled: false, reject }
      this.#push(pending)
      promise.then(
        (value) => {
          pending.settled = true
          resolve(value)
        },
        (error: unknown) => {
          pending.settled = true
          reject(error instanceof Error ? error : new Error(String(error)))
        },
      )
    })
  }

  /** Operations not yet settled nor timed out (tracked ones may lag behind until the next check). */
  get size(): number {
    return this.#queue.length - this.#head
  }

  /** Stops the timer; operations still pending are no longer timed. */
  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue = []
    this.#head = 0
  }

  #push(pending: Pending): void {
    this.#dropSettled()
    this.#queue.push(pending)
    this.#timer ??= this.#arm(pending.deadline)
  }

  #dropSettled(): void {
    const queue = this.#queue
    while (this.#head < queue.length && queue[this.#head]!.settled) this.#head++
    if (this.#head === queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head)
      this.#head = 0
    }
  }

  #expire(): void {
    this.#timer = undefined
    this.#dropSettled()
    const now = performance.now()
    const queue = this.#queue
    while (this.#head < queue.length) {
      const pending = queue[this.#head]!
      if (!pending.settled) {
        if (pending.deadline > now) break
        pending.settled = true
        pending.reject(this.timeoutError())
      }
      this.#head++
    }
    this.#dropSettled()
    if (this.#head < this.#queue.length) this.#timer = this.#arm(this.#queue[this.#head]!.deadline)
  }

  #arm(deadline: number): NodeJS.Timeout {
    const timer = setTimeout(this.#fire, Math.max(Math.ceil(deadline - performance.now()), 0))
    // Never what keeps a process alive: a pending command's socket does that while it matters.
    timer.unref()
    return timer
  }
}
