import { randomUUID } from 'node:crypto'
import type {
  AutomaticEvictionReason,
  BusMessage,
  EntryLocks,
  EntryRef,
  Invalidation,
  ScopePath,
  StorageContext,
  StorageProvider,
  WriteFence,
} from '../storage/contract.js'
import { countsAsFailure } from './circuit-breaker.js'
import { Publisher } from './publisher.js'

/**
 * Whether a process without a local tier publishes its plain writes too (not only removals). Yes:
 * otherwise another process's L1 copy of an entry this process overwrote is served until that
 * process's `local.ttlSeconds`. Measured cost on the Redis bench rows: see the README ("Two tiers").
 */
const PUBLISH_WRITES = true

/**
 * The storage of a cache WITHOUT a local tier whose shared storage can make a bus (`createBus`): it
 * forwards every operation, and announces on the bus what it changed, so that the local tiers of
 * other processes drop their copies (the same messages a local tier sends).
 *
 * - Removals (`delete`, `evictScope`, clear) resolve only once the bus accepted their message.
 * - Writes publish too: a lone write from its own write command when the storage has
 *   `setAndPublish`, concurrent ones in one message per turn of the event loop (not waited for).
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
  ) => Promise<boolean>
  readonly #publisher: Publisher
  readonly #setAndPublish: StorageProvider['setAndPublish']
  /** Writes under way (a lone write fuses its message, concurrent ones share one). */
  #writing = 0
  /** Refs a shared bound evicted, to name in the next message. */
  #victims: EntryRef[] = []
  #context: StorageContext | undefined
  readonly #onError: (error: unknown) => void
  #closed = false

  /** `onError`: a background publish failed. */
  constructor(shared: StorageProvider, onError: (error: unknown) => void) {
    this.shared = shared
    this.#onError = onError
    this.storageType = shared.storageType
    this.supportsBounds = shared.supportsBounds
    this.boundOrders = shared.boundOrders
    if (shared.locks !== undefined) this.locks = shared.locks
    this.#publisher = new Publisher(randomUUID(), () => shared.createBus?.(), onError)
    this.#setAndPublish = shared.setAndPublish?.bind(shared)
    const { fence, setFenced } = shared
    if (fence !== undefined && setFenced !== undefined) {
      this.fence = (ref) => fence.call(shared, ref)
      this.setFenced = (ref, value, ttlMs, token) =>
        this.#write(ref, (message) => setFenced.call(shared, ref, value, ttlMs, token, message), true)
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

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    if (!PUBLISH_WRITES) return this.shared.set(ref, value, ttlMs)
    const setAndPublish = this.#setAndPublish
    await this.#write(
      ref,
      (message) =>
        message === undefined
          ? this.shared.set(ref, value, ttlMs).then(STORED)
          : setAndPublish!(ref, value, ttlMs, message).then(STORED),
      setAndPublish !== undefined,
    )
  }

  /** A write; `fusable`: `write` can publish a message given to it in the same step. */
  async #write(
    ref: EntryRef,
    write: (message: BusMessage | undefined) => Promise<boolean>,
    fusable: boolean,
  ): Promise<boolean> {
    const fuse = fusable && this.#writing === 0 && !this.#publisher.batching && !this.#closed
    const message: BusMessage | undefined = fuse
      ? { origin: this.#publisher.origin, invalidation: { kind: 'entries', refs: [ref] } }
      : undefined
    this.#writing++
    let stored: boolean
    try {
      stored = await write(message)
    } catch (error) {
      // It may land anyway (a timeout); one caller's bad input was refused before anything was sent.
      if (countsAsFailure(error)) this.#publisher.queue(ref)
      throw error
    } finally {
      this.#writing--
    }
    if (stored && !fuse) this.#publisher.queue(ref)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
    return stored
  }

  delete(ref: EntryRef): Promise<boolean> {
    return this.#removal(() => this.shared.delete(ref), { kind: 'entries', refs: [ref] })
  }

  evictScope(path: ScopePath): Promise<number> {
    return this.#removal(() => this.shared.evictScope(path), { kind: 'scope', path })
  }

  /** A removal, then its message, waited for; a failed removal publishes too, and rejects with its error. */
  async #removal<T>(call: () => Promise<T>, invalidation: Invalidation): Promise<T> {
    let result: T
    try {
      result = await call()
    } catch (error) {
      if (countsAsFailure(error)) this.#publisher.send(invalidation).catch(this.#onError)
      throw error
    }
    await this.#publisher.send(invalidation)
    return result
  }

  size(): Promise<number> {
    return this.shared.size()
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

/** A write that stored (the fence-less writes always do). */
const STORED = (): boolean => true

/**
 * The storage a cache without a local tier calls: `storage` itself, or a {@link PublishingStorage}
 * around it when it can make a bus (so that local tiers of other processes hear of its changes).
 */
export function publishing(storage: StorageProvider, onError: (error: unknown) => void): StorageProvider {
  return storage.createBus === undefined || storage.sync !== undefined
    ? storage
    : new PublishingStorage(storage, onError)
}
