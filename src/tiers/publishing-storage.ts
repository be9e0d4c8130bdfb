import { randomUUID } from 'node:crypto'
import type {
  ByteUsage,
  AutomaticEvictionReason,
  BusMessage,
  EntryLocks,
  EntryRef,
  EntryWrite,
  Invalidation,
  Miss,
  ScopePath,
  StorageContext,
  StorageProvider,
  StoredEntry,
  WriteFence,
  WriteOptions,
} from '../storage/contract.js'
import { BUS_RECEIVER_TIMING } from '../storage/contract.js'
import { countsAsFailure } from './circuit-breaker.js'
import { Publisher } from './publisher.js'
import { deleteAll, STORED, writeAll } from './shared-bulk.js'

const { answerFreshMs: ANSWER_FRESH_MS, slowWriteMs: SLOW_WRITE_MS } = BUS_RECEIVER_TIMING

/**
 * The storage of a cache WITHOUT a local tier whose shared storage can make a bus (`createBus`): it
 * forwards every operation, and announces on the bus what it changed, so that the local tiers of
 * other processes drop their copies (the same messages a local tier sends).
 *
 * - Removals (`delete`, `evictScope`, clear) resolve only once the bus accepted their message.
 * - Writes publish too (otherwise another process's L1 copy of an entry this one overwrote would be
 *   served until its `local.ttlSeconds`): a lone write from its own write command when the storage has
 *   `setAndPublish`, concurrent ones in one message per turn of the event loop (not waited for).
 *   Unless no process has a local tier to tell: when the bus can count its receivers
 *   (`Bus.receivers`) and answered 0 recently enough, plain writes go unannounced, under the timing
 *   rules of `BUS_RECEIVER_TIMING` (a write acknowledged slowly is announced all the same).
 * - A write or removal that failed after it was sent publishes as well (it may land anyway).
 * - Entries a shared bound evicted are named in the next message.
 * - The bus is made on the first message, and never subscribes: a process that only reads opens
 *   nothing for it, and a publishing bus on Redis uses the storage's own connection.
 */
export class PublishingStorage implements StorageProvider {
  readonly storageType: string
  readonly supportsBounds: boolean
  /** The shared storage's bound orders (the cache's bounds are enforced there). */
  readonly boundOrders: StorageProvider['boundOrders']
  /** The shared storage's byte budgets. */
  readonly supportsByteBounds: boolean | undefined
  readonly supportsFairness: StorageProvider['supportsFairness']
  /** The shared storage's locks, unchanged. */
  readonly locks?: EntryLocks
  /** The storage this wraps. */
  readonly shared: StorageProvider
  /** Present when the shared storage has it: its fence. */
  readonly fence?: (ref: EntryRef) => Promise<WriteFence>
  /** Present when the shared storage has it: a fenced write that publishes in the same step if it stored. */
  readonly setFenced?: (
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
    message?: BusMessage,
    options?: WriteOptions,
  ) => Promise<boolean>
  /** Present when the shared storage has it: the shared invalidation, then a scope message (see TieredStorage). */
  readonly invalidateTags?: (tags: readonly string[], path: ScopePath) => Promise<number>
  /** Present when the shared storage has it: its `getWithExpiry`. */
  readonly getWithExpiry?: (ref: EntryRef) => Promise<StoredEntry | Miss>
  /** Present when the shared storage has it: its `getManyWithExpiry`. */
  readonly getManyWithExpiry?: (refs: readonly EntryRef[]) => Promise<(StoredEntry | Miss)[]>
  /** Present when the shared storage has it: its `getMany`. */
  readonly getMany?: (refs: readonly EntryRef[]) => Promise<unknown[]>
  readonly #publisher: Publisher
  readonly #setAndPublish: StorageProvider['setAndPublish']
  /** Writes under way (a lone write fuses its message, concurrent ones share one). */
  #writing = 0
  /** Refs a shared bound evicted, to name in the next message. */
  #victims: EntryRef[] = []
  #context: StorageContext | undefined
  #closed = false
  /** When (performance.now()) the last answer of `Bus.receivers` that was 0 was asked for; -Infinity: none. */
  #noReceiversAskedAt = Number.NEGATIVE_INFINITY
  /** When the receivers were last asked for (one question at a time, at most one per freshness period). */
  #askedAt = Number.NEGATIVE_INFINITY
  #asking = false

  /** `onError`: a background publish failed. */
  constructor(shared: StorageProvider, onError: (error: unknown) => void) {
    this.shared = shared
    this.storageType = shared.storageType
    this.supportsBounds = shared.supportsBounds
    this.boundOrders = shared.boundOrders
    this.supportsByteBounds = shared.supportsByteBounds
    this.supportsFairness = shared.supportsFairness
    if (shared.locks !== undefined) this.locks = shared.locks
    this.#publisher = new Publisher(randomUUID(), () => shared.createBus?.(), onError)
    this.#setAndPublish = shared.setAndPublish?.bind(shared)
    if (shared.getWithExpiry !== undefined) this.getWithExpiry = shared.getWithExpiry.bind(shared)
    if (shared.getMany !== undefined) this.getMany = shared.getMany.bind(shared)
    if (shared.getManyWithExpiry !== undefined) this.getManyWithExpiry = shared.getManyWithExpiry.bind(shared)
    const { fence, setFenced } = shared
    if (fence !== undefined && setFenced !== undefined) {
      this.fence = (ref) => fence.call(shared, ref)
      this.setFenced = (ref, value, ttlMs, token, _message, options) =>
        this.#write(
          ref,
          (message) => setFenced.call(shared, ref, value, ttlMs, token, message, options),
          true,
        )
    }
    const invalidateTags = shared.invalidateTags
    const fused = shared.invalidateTagsAndPublish
    if (typeof invalidateTags === 'function') {
      this.invalidateTags =
        fused === undefined
          ? (tags, path) =>
              this.#removal(() => invalidateTags.call(shared, tags, path), { kind: 'scope', path })
          : (tags, path) =>
              this.#publisher.removalPublished(
                (message) => fused.call(shared, tags, path, message),
                { kind: 'scope', path },
                SENT,
              )
    }
  }

  attach(context: StorageContext): void {
    this.#context = context
    const bounded = context.bounds.length !== 0
    this.shared.attach({
      ...context,
      // Bound victims must leave every L1, so the shared storage names them whenever bounds exist.
      get wantsEvictedRefs() {
        return bounded || context.wantsEvictedRefs
      },
      onEvicted: (reason, count, ref) => this.#sharedEvicted(reason, count, ref),
    })
  }

  get(ref: EntryRef): Promise<unknown> {
    return this.shared.get(ref)
  }

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    const setAndPublish = this.#setAndPublish
    await this.#write(
      ref,
      (message) =>
        message === undefined
          ? this.shared.set(ref, value, ttlMs, options).then(STORED)
          : setAndPublish!(ref, value, ttlMs, message, options).then(STORED),
      setAndPublish !== undefined,
    )
  }

  /** A write; `fusable`: `write` can publish a message given to it in the same step. */
  async #write(
    ref: EntryRef | readonly EntryRef[],
    write: (message: BusMessage | undefined) => Promise<boolean>,
    fusable: boolean,
  ): Promise<boolean> {
    const refs = Array.isArray(ref) ? (ref as readonly EntryRef[]) : [ref as EntryRef]
    if (this.#unheard()) return this.#unannounced(refs, write)
    const fuse = fusable && this.#writing === 0 && !this.#publisher.batching && !this.#closed
    const message: BusMessage | undefined = fuse
      ? { origin: this.#publisher.origin, invalidation: { kind: 'entries', refs } }
      : undefined
    this.#writing++
    let stored: boolean
    try {
      stored = await write(message)
    } catch (error) {
      // It may land anyway (a timeout); one caller's bad input was refused before anything was sent.
      if (countsAsFailure(error)) this.#publisher.queue(...refs)
      throw error
    } finally {
      this.#writing--
    }
    if (stored && !fuse) this.#publisher.queue(...refs)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
    return stored
  }

  /**
   * Whether a write sent now may go unannounced: the bus answered "no receivers" to a question sent
   * less than {@link ANSWER_FRESH_MS} ago. Asks again (in the background) once the answer is older.
   */
  #unheard(): boolean {
    const now = performance.now()
    if (now - this.#askedAt >= ANSWER_FRESH_MS && !this.#asking) this.#ask(now)
    return now - this.#noReceiversAskedAt < ANSWER_FRESH_MS
  }

  /** Asks the bus for its receivers (never rejects: no answer means every write is announced). */
  #ask(now: number): void {
    const bus = this.#closed ? undefined : this.#publisher.bus
    if (bus?.receivers === undefined) {
      this.#askedAt = Number.POSITIVE_INFINITY // never: this bus cannot tell
      return
    }
    this.#asking = true
    this.#askedAt = now
    bus.receivers().then(
      (count) => {
        this.#asking = false
        if (count === 0) this.#noReceiversAskedAt = now
      },
      () => {
        this.#asking = false
      },
    )
  }

  /** A write while no process has a local tier: announced only if it failed or took long to acknowledge. */
  async #unannounced(
    refs: readonly EntryRef[],
    write: (message: BusMessage | undefined) => Promise<boolean>,
  ): Promise<boolean> {
    const sentAt = performance.now()
    let stored: boolean
    try {
      stored = await write(undefined)
    } catch (error) {
      if (countsAsFailure(error)) this.#publisher.queue(...refs)
      throw error
    }
    // A receiver registered meanwhile may have read the old value after its quiet period began.
    if (stored && performance.now() - sentAt >= SLOW_WRITE_MS) this.#publisher.queue(...refs)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
    return stored
  }

  /**
   * Every write (the shared `setMany`, or one `set` each, all at once), then the refs named in the
   * next message (messages of up to 200 refs, not one per entry).
   */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    const refs = writes.map((write) => write.ref)
    await this.#write(refs, () => writeAll(this.shared, writes), false)
  }

  /** Removes every ref (the shared `deleteMany`, or one `delete` each), then one message, waited for. */
  deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    return this.#removal(() => deleteAll(this.shared, refs), { kind: 'entries', refs })
  }

  delete(ref: EntryRef): Promise<boolean> {
    return this.#removal(() => this.shared.delete(ref), { kind: 'entries', refs: [ref] })
  }

  evictScope(path: ScopePath): Promise<number> {
    return this.#removal(() => this.shared.evictScope(path), { kind: 'scope', path })
  }

  /** A removal, then its message, waited for (see {@link Publisher.removal}). */
  #removal<T>(call: () => Promise<T>, invalidation: Invalidation): Promise<T> {
    return this.#publisher.removal(call, invalidation, SENT)
  }

  size(): Promise<number> {
    return this.shared.size()
  }

  /** The shared storage's bytes under byte budgets. */
  async byteUsage(topN: number): Promise<ByteUsage | undefined> {
    return this.shared.byteUsage?.(topN)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#publisher.close()
    } finally {
      await this.shared.close()
    }
  }

  #sharedEvicted(reason: AutomaticEvictionReason, count: number, ref: EntryRef | undefined): void {
    if (reason !== 'expired' && ref !== undefined) this.#victims.push(ref)
    const context = this.#context!
    context.onEvicted(reason, count, context.wantsEvictedRefs ? ref : undefined)
  }
}

/** Every removal reached the storage (no breaker refuses one here). */
const SENT = (): boolean => true

/**
 * The storage a cache without a local tier calls: `storage` itself, or a {@link PublishingStorage}
 * around it when it can make a bus (so that local tiers of other processes hear of its changes).
 */
export function publishing(storage: StorageProvider, onError: (error: unknown) => void): StorageProvider {
  return storage.createBus === undefined || storage.sync !== undefined
    ? storage
    : new PublishingStorage(storage, onError)
}
