import { randomUUID } from 'node:crypto'
import type {
  ByteUsage,
  AutomaticEvictionReason,
  Bus,
  BusMessage,
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
import { MISS } from '../storage/contract.js'
import { CircuitBreaker, countsAsFailure } from './circuit-breaker.js'
import { LocalTier } from './local-tier.js'
import { Publisher } from './publisher.js'
import { deleteAll, STORED, writeAll } from './shared-bulk.js'

export type { BusMessageInfo, BusResetInfo, LocalTierOptions, TierListener } from './tier-options.js'
import type { LocalTierOptions, TierListener } from './tier-options.js'
import { tierSettings } from './tier-options.js'

/**
 * Background touches of the shared LRU order in flight at most: beyond that, L1 hits are not reported
 * (the shared LRU order then sees a sample of them) rather than queueing commands without bound.
 */
const MAX_TOUCHES_IN_FLIGHT = 64

/**
 * Two tiers as one storage: an in-process L1 (a bounded {@link LocalTier}) in front of a shared
 * storage (Redis, MongoDB), kept coherent across processes by a {@link Bus}.
 *
 * Rules:
 * - Reads try L1, then the shared storage; a shared hit is copied into L1 with the entry's own expiry
 *   (never later, through `getWithExpiry`), capped at the local TTL. A shared storage without
 *   `getWithExpiry` gets no copies of reads, only of this process's own writes.
 * - Writes and removals go to the shared storage first, then the change is published (entry refs or
 *   a scope path, never values). A write's message leaves without being waited for; a removal
 *   (`delete`, `evictScope`) resolves only once the bus accepted its message. A write or removal that
 *   failed publishes too: a command that timed out may still land, and an invalidation of an entry
 *   that did not change is harmless. The local copy is dropped before the shared write starts and
 *   replaced after it succeeded.
 * - Local expiry is counted from the moment the write was sent (or the read's expiry as the shared
 *   storage reported it), never from when the answer was processed: a busy event loop cannot make a
 *   copy outlive the shared entry.
 * - No copy is kept until the bus has confirmed its subscription (its first `onReset`): before that,
 *   messages from other processes would be missed. A bus that registers receivers (Redis standalone)
 *   adds a quiet period after each (re)registration during which nothing is kept, since processes
 *   without a local tier announce writes only while some receiver is registered.
 *   (`BUS_RECEIVER_TIMING`).
 * - Bounds and expiry are the shared storage's (they hold across processes); L1's own LRU drops are
 *   not evictions of the cache. Entries a shared bound evicts are dropped here and named in the next
 *   message so other processes drop theirs. An L1 hit under a shared LRU bound sends a touch to the
 *   shared storage in the background, so that the bound still sees the use.
 * - Race guard: a read or write that was under way while an invalidation (local or from the bus)
 *   touched its entry, one of its ancestors' scopes, or everything, does not fill L1 when it ends:
 *   every invalidation bumps an epoch and is recorded while operations are in flight, and a fill
 *   checks the records newer than its own start (`RaceGuard`, race-guard.ts).
 * - Fenced writes (`fence`/`setFenced`, present when the shared storage has them): passed through;
 *   L1 is filled only if the shared storage stored the value.
 * - Staleness: with the bus connected, a copy is dropped as soon as the message arrives (a pub/sub
 *   hop). When the bus (re)subscribes, or the circuit closes again after the shared storage failed,
 *   L1 is emptied, since messages may have been lost meanwhile. In every case no copy outlives the
 *   local TTL.
 * - A circuit breaker guards the shared storage: while it is open, L1 hits are still served and
 *   everything else fails fast with a `StorageError`.
 */
export class TieredStorage implements StorageProvider {
  readonly storageType: string
  readonly supportsBounds: boolean
  /** The shared storage's bound orders (the cache's bounds are enforced there). */
  readonly boundOrders: StorageProvider['boundOrders']
  /** The shared storage's byte budgets (enforced there; `local.maxBytes` bounds the copies). */
  readonly supportsByteBounds: boolean | undefined
  readonly supportsFairness: StorageProvider['supportsFairness']
  /** This tier's id on the bus. */
  readonly origin = randomUUID()
  /** The shared storage. */
  readonly shared: StorageProvider
  /** Present when the shared storage has it: its fence, through the breaker. */
  readonly fence?: (ref: EntryRef) => Promise<WriteFence>
  /**
   * Present when the shared storage has it: a fenced write (see `StorageProvider.setFenced`); resolves
   * whether it stored. This tier's own message is published with it (a `message` argument is ignored).
   */
  readonly setFenced?: (
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
    message?: BusMessage,
    options?: WriteOptions,
  ) => Promise<boolean>
  /**
   * Present when the shared storage has it: the shared invalidation, then a scope message on the bus.
   * L1 does not know the tags of its copies (reads do not fetch them), so every local tier, this one
   * included, drops its copies of the whole scope: a few more misses, never a stale tagged entry.
   */
  readonly invalidateTags?: (tags: readonly string[], path: ScopePath) => Promise<number>
  /**
   * Present when the shared storage has it: the shared storage's entry with its exact expiry (an L1
   * copy is not consulted: its expiry is capped at the local TTL), kept in L1 like `fill` keeps it.
   */
  readonly getWithExpiry?: (ref: EntryRef) => Promise<StoredEntry | Miss>
  readonly #local: LocalTier
  readonly #bus: Bus | undefined
  readonly #publisher: Publisher
  readonly #breaker: CircuitBreaker | undefined
  readonly #listener: TierListener
  readonly #getWithExpiry: ((ref: EntryRef) => Promise<unknown>) | undefined
  /** The shared storage's write-and-publish, when the bus is the storage's own. */
  readonly #setAndPublish: StorageProvider['setAndPublish']
  /** Whether the bus is the shared storage's own (its messages can leave from a fenced write). */
  readonly #ownBus: boolean
  #touchOnHit = false
  #onEvicted: StorageContext['onEvicted'] = () => undefined
  #forwardRefs = false
  /** Refs a shared bound evicted, to name in the next message. */
  #victims: EntryRef[] = []
  /** Writes under way. */
  #writing = 0
  /** Background touches under way (see {@link TieredStorage.#touch}); they never reject. */
  readonly #touching = new Set<Promise<void>>()
  #closed = false

  constructor(shared: StorageProvider, options: LocalTierOptions, listener: TierListener) {
    const {
      maxItems,
      maxBytes,
      policy,
      fairness,
      ttlMs,
      bus,
      ownBus,
      circuitBreaker: breaker,
    } = tierSettings(shared, options)
    this.shared = shared
    this.storageType = shared.storageType
    this.supportsBounds = shared.supportsBounds
    this.boundOrders = shared.boundOrders
    this.supportsByteBounds = shared.supportsByteBounds
    this.supportsFairness = shared.supportsFairness
    this.#local = new LocalTier({ policy, maxItems, maxBytes, fairness }, ttlMs, bus === undefined, (info) =>
      listener.busReset(info),
    )
    this.#bus = bus
    this.#publisher = new Publisher(this.origin, bus, (error) => listener.error('publish', error))
    this.#listener = listener
    this.#breaker =
      breaker === false
        ? undefined
        : new CircuitBreaker(shared.storageType, breaker, {
            onOpen: (info) => listener.circuitOpen(info),
            onClose: (info) => {
              listener.circuitClose(info)
              this.#local.reset('circuit closed')
            },
          })
    const withExpiry = shared.getWithExpiry
    this.#getWithExpiry = withExpiry === undefined ? undefined : (ref) => withExpiry.call(shared, ref)
    if (withExpiry !== undefined) this.getWithExpiry = (ref) => this.#exactEntry(ref)
    this.#ownBus = ownBus && bus !== undefined
    this.#setAndPublish = this.#ownBus ? shared.setAndPublish?.bind(shared) : undefined
    const { fence, setFenced } = shared
    if (fence !== undefined && setFenced !== undefined) {
      this.fence = (ref) => this.#call('fence', () => fence.call(shared, ref))
      this.setFenced = (ref, value, ttlMs, token, _message, options) =>
        this.#write([{ ref, value, ttlMs }], this.#ownBus, (message) =>
          setFenced.call(shared, ref, value, ttlMs, token, message, options),
        )
    }
    const invalidateTags = shared.invalidateTags
    // With the storage's own bus, the storage publishes the message itself (one command for both).
    const fused = this.#ownBus ? shared.invalidateTagsAndPublish : undefined
    if (typeof invalidateTags === 'function') {
      this.invalidateTags = async (tags, path) => {
        this.#local.dropScope(path)
        const invalidation: Invalidation = { kind: 'scope', path }
        const removed =
          fused === undefined
            ? await this.#removal(
                'invalidateTags',
                () => invalidateTags.call(shared, tags, path),
                invalidation,
              )
            : await this.#removalPublished(
                'invalidateTags',
                (message) => fused.call(shared, tags, path, message),
                invalidation,
              )
        this.#local.dropScope(path)
        return removed
      }
    }
  }

  attach(context: StorageContext): void {
    this.#onEvicted = context.onEvicted
    this.#forwardRefs = context.wantsEvictedRefs
    this.#touchOnHit = context.bounds.some((b) => b.order === 'lru')
    this.shared.attach({
      ...context,
      // Bound victims must leave every L1, so the shared storage names them whenever bounds exist.
      wantsEvictedRefs: context.wantsEvictedRefs || context.bounds.length !== 0,
      onEvicted: (reason, count, ref) => this.#sharedEvicted(reason, count, ref),
    })
    this.#bus?.subscribe({
      onMessage: (message) => this.#receive(message),
      onReset: (reason, quietMs) => this.#local.busReset(reason, quietMs),
      onError: (error) => this.#listener.error('bus', error),
      origin: this.origin,
    })
  }

  /** Not `async`: an L1 hit costs one resolved promise and nothing else. */
  get(ref: EntryRef): Promise<unknown> {
    const local = this.peek(ref)
    return local !== MISS ? Promise.resolve(local) : this.fill(ref)
  }

  /** The L1 copy, or `MISS` (then `get` asks the shared storage): synchronous, for the cache's hit path. */
  peek(ref: EntryRef): unknown {
    const local = this.#local.get(ref)
    if (local !== MISS && this.#touchOnHit) this.#touch(ref)
    return local
  }

  /** The read of the shared storage that `get` makes after `peek` missed (it does not look in L1 again). */
  async fill(ref: EntryRef): Promise<unknown> {
    const start = this.#local.begin()
    try {
      if (this.#getWithExpiry === undefined) return await this.#call('get', () => this.shared.get(ref))
      const found = (await this.#call('get', () => this.#getWithExpiry!(ref))) as StoredEntry | Miss
      return found === MISS ? MISS : this.#local.kept(ref, found, start)
    } finally {
      this.#local.end()
    }
  }

  /** See {@link TieredStorage.getWithExpiry}. */
  async #exactEntry(ref: EntryRef): Promise<StoredEntry | Miss> {
    const start = this.#local.begin()
    try {
      const found = (await this.#call('get', () => this.#getWithExpiry!(ref))) as StoredEntry | Miss
      return found === MISS
        ? MISS
        : { value: this.#local.kept(ref, found, start), expiresAt: found.expiresAt }
    } finally {
      this.#local.end()
    }
  }

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    const setAndPublish = this.#setAndPublish
    await this.#write([{ ref, value, ttlMs }], setAndPublish !== undefined, (message) =>
      message === undefined
        ? this.shared.set(ref, value, ttlMs, options).then(STORED)
        : setAndPublish!(ref, value, ttlMs, message, options).then(STORED),
    )
  }

  /**
   * Writes through the shared storage, then keeps L1 copies and names the refs in the next message.
   * `send` writes given the message to publish with the write, or `undefined`; it is given one only
   * for a lone write (none other under way or queued) when `fusable` (it can publish in the same
   * step). Resolves whether it stored.
   */
  async #write(
    writes: readonly EntryWrite[],
    fusable: boolean,
    send: (message: BusMessage | undefined) => Promise<boolean>,
  ): Promise<boolean> {
    if (this.#touching.size !== 0) await this.#touchesLanded()
    for (const write of writes) this.#local.dropEntry(write.ref)
    const refs = writes.map((write) => write.ref)
    const start = this.#local.begin()
    // A lone write publishes from its own write command; concurrent ones share one message per turn.
    const fuse = fusable && this.#writing === 0 && !this.#publisher.batching
    this.#writing++
    let sent = false
    let stored: boolean
    // Local expiry counts from before the write was sent: never later than the shared entry's.
    const sentAt = Date.now()
    try {
      stored = await this.#call('set', () => {
        sent = true
        return send(fuse ? { origin: this.origin, invalidation: { kind: 'entries', refs } } : undefined)
      })
      if (stored)
        for (const { ref, value, ttlMs } of writes) this.#local.written(ref, value, ttlMs, sentAt, start)
    } catch (error) {
      // A write that timed out may still land: tell the others (a fused write's script publishes
      // when it lands, this message covers the cases where it did not get that far).
      if (sent && countsAsFailure(error)) this.#publisher.queue(...refs)
      throw error
    } finally {
      this.#writing--
      this.#local.end()
    }
    if (stored && !fuse) this.#publisher.queue(...refs)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
    return stored
  }

  /**
   * The L1 copy of `ref` with the copy's expiry (at the latest the shared entry's, capped at the local
   * TTL), or `MISS`; synchronous, like {@link TieredStorage.peek}.
   */
  peekEntry(ref: EntryRef): StoredEntry | Miss {
    const local = this.#local.getWithExpiry(ref)
    if (local !== MISS && this.#touchOnHit) this.#touch(ref)
    return local
  }

  /**
   * L1 hits answered locally (with the copies' expiries), the misses read from the shared storage in
   * one bulk read (its `getManyWithExpiry`, or its `getWithExpiry` per ref), kept in L1 like `fill` keeps them:
   * same expiry cap, same race guard. (A shared storage with neither gives no expiries: its entries are
   * answered with `expiresAt` undefined and not kept.)
   */
  async getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    const out = refs.map((ref) => this.peekEntry(ref))
    const missing: number[] = []
    out.forEach((entry, index) => {
      if (entry === MISS) missing.push(index)
    })
    if (missing.length === 0) return out
    const wanted = missing.map((index) => refs[index]!)
    const start = this.#local.begin()
    try {
      const found = await this.#call('get', () => this.#sharedMany(wanted))
      missing.forEach((index, j) => {
        const entry = found[j]!
        if (entry === MISS || this.#getWithExpiry === undefined) out[index] = entry
        else out[index] = { value: this.#local.kept(refs[index]!, entry, start), expiresAt: entry.expiresAt }
      })
    } finally {
      this.#local.end()
    }
    return out
  }

  /** The values of `refs`: {@link TieredStorage.getManyWithExpiry}'s, without the expiries. */
  async getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    return (await this.getManyWithExpiry(refs)).map((entry) => (entry === MISS ? MISS : entry.value))
  }

  #sharedMany(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    const shared = this.shared
    if (shared.getManyWithExpiry !== undefined) return shared.getManyWithExpiry(refs)
    const one = this.#getWithExpiry
    return Promise.all(
      refs.map((ref) =>
        one !== undefined
          ? (one(ref) as Promise<StoredEntry | Miss>)
          : shared.get(ref).then((value) => (value === MISS ? MISS : { value, expiresAt: undefined })),
      ),
    )
  }

  /**
   * Every write to the shared storage in one bulk write (its `setMany`, or one `set` each, all at once),
   * then L1 copies as `set` keeps them, and the refs named in the next message (messages of up to 200
   * refs, not one per entry).
   */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    await this.#write(writes, false, () => writeAll(this.shared, writes))
  }

  /** Removes every ref (the shared `deleteMany`, or one `delete` each), then one message, waited for. */
  async deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    for (const ref of refs) this.#local.dropEntry(ref)
    const removed = await this.#removal('delete', () => deleteAll(this.shared, refs), {
      kind: 'entries',
      refs,
    })
    for (const ref of refs) this.#local.dropEntry(ref)
    return removed
  }

  async delete(ref: EntryRef): Promise<boolean> {
    this.#local.dropEntry(ref)
    const removed = await this.#removal('delete', () => this.shared.delete(ref), {
      kind: 'entries',
      refs: [ref],
    })
    this.#local.dropEntry(ref)
    return removed
  }

  async evictScope(path: ScopePath): Promise<number> {
    this.#local.dropScope(path)
    const removed = await this.#removal('evictScope', () => this.shared.evictScope(path), {
      kind: 'scope',
      path,
    })
    this.#local.dropScope(path)
    return removed
  }

  /** A removal in the shared storage through the breaker, then its message (see {@link Publisher.removal}). */
  #removal<T>(operation: string, call: () => Promise<T>, invalidation: Invalidation): Promise<T> {
    let sent = false
    const remove = () =>
      this.#call(operation, () => {
        sent = true
        return call()
      })
    return this.#publisher.removal(remove, invalidation, () => sent)
  }

  /** {@link TieredStorage.#removal} by a storage call that publishes the message itself. */
  #removalPublished<T>(
    operation: string,
    call: (message: BusMessage) => Promise<T>,
    invalidation: Invalidation,
  ): Promise<T> {
    let sent = false
    const remove = (message: BusMessage) =>
      this.#call(operation, () => {
        sent = true
        return call(message)
      })
    return this.#publisher.removalPublished(remove, invalidation, () => sent)
  }

  size(): Promise<number> {
    return this.#call('size', () => this.shared.size())
  }

  /** The shared storage's bytes under byte budgets. */
  async byteUsage(topN: number): Promise<ByteUsage | undefined> {
    return this.#call('stats', async () => this.shared.byteUsage?.(topN))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#local.close()
    try {
      await this.#publisher.close()
    } finally {
      await this.shared.close()
    }
  }

  /** Number of local copies (for tests and diagnostics). */
  get localSize(): number {
    return this.#local.size
  }

  #call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return this.#breaker === undefined ? call() : this.#breaker.run(operation, call)
  }

  /** Tells the shared storage about an L1 hit (LRU bounds), in the background, {@link MAX_TOUCHES_IN_FLIGHT} at most. */
  #touch(ref: EntryRef): void {
    if (this.#touching.size >= MAX_TOUCHES_IN_FLIGHT || this.#breaker?.isOpen === true) return
    const touch = this.#call('touch', () => this.shared.get(ref)).then(
      (found) => {
        this.#touching.delete(touch)
        // The entry left the shared storage meanwhile (expired there, or evicted elsewhere): drop it.
        if (found === MISS) this.#local.forget(ref)
      },
      (error: unknown) => {
        this.#touching.delete(touch)
        this.#listener.error('touch', error)
      },
    )
    this.#touching.add(touch)
  }

  /**
   * Before a write: the touches sent so far have landed (a storage with a connection pool, such as
   * MongoDB's, could otherwise apply a touch after the write and evict by an outdated order).
   */
  async #touchesLanded(): Promise<void> {
    if (this.#touching.size !== 0) await Promise.all(this.#touching)
  }

  #sharedEvicted(reason: AutomaticEvictionReason, count: number, ref: EntryRef | undefined): void {
    if (reason !== 'expired') {
      if (ref === undefined) this.#local.reset('a bound evicted entries it did not name')
      else {
        this.#local.dropEntry(ref)
        this.#victims.push(ref)
      }
    }
    this.#onEvicted(reason, count, this.#forwardRefs ? ref : undefined)
  }

  #receive(message: BusMessage): void {
    if (message.origin === this.origin || this.#closed) return
    const { invalidation } = message
    let dropped = 0
    if (invalidation.kind === 'scope') dropped = this.#local.dropScope(invalidation.path)
    else for (const ref of invalidation.refs) if (this.#local.dropEntry(ref)) dropped++
    this.#listener.busMessage({ origin: message.origin, invalidation, dropped })
  }
}
