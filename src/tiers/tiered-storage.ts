import { randomUUID } from 'node:crypto'
import { ConfigurationError } from '../errors.js'
import { timerMs } from '../ttl.js'
import type {
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
import { encodeEntryRef, encodeScopePath } from '../storage/key-encoding.js'
import { MemoryStore } from '../storage/memory/store.js'
import { breakerSettings, CircuitBreaker, countsAsFailure } from './circuit-breaker.js'
import { CopyPerHit, localCopy, NO_COPY } from './local-copy.js'
import { Publisher } from './publisher.js'

export type { BusMessageInfo, BusResetInfo, LocalTierOptions, TierListener } from './tier-options.js'
import type { LocalTierOptions, TierListener } from './tier-options.js'

const DEFAULT_MAX_ITEMS = 10_000
const DEFAULT_TTL_SECONDS = 60
/**
 * Background touches of the shared LRU order in flight at most: beyond that, L1 hits are not reported
 * (the shared LRU order then sees a sample of them) rather than queueing commands without bound.
 */
const MAX_TOUCHES_IN_FLIGHT = 64

/**
 * Two tiers as one storage: an in-process L1 (a bounded LRU {@link MemoryStore}) in front of a shared
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
 *   checks the records newer than its own start.
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
  readonly #local = new MemoryStore()
  readonly #localTtlMs: number
  readonly #bus: Bus | undefined
  readonly #publisher: Publisher
  readonly #breaker: CircuitBreaker | undefined
  readonly #listener: TierListener
  readonly #getWithExpiry: ((ref: EntryRef) => Promise<unknown>) | undefined
  /** The shared storage's write-and-publish, when the bus is the storage's own. */
  readonly #setAndPublish: StorageProvider['setAndPublish']
  /** Whether the bus is the shared storage's own (its messages can leave from a fenced write). */
  readonly #ownBus: boolean
  /**
   * Whether copies may be kept: no bus, or the bus confirmed its subscription (first `onReset`).
   * Before that, another process's message could be missed while a copy is kept.
   */
  #live: boolean
  /** Running while a quiet period after a (re)registration lasts (see {@link TieredStorage.#busReset}). */
  #quietTimer: NodeJS.Timeout | undefined
  /** Copies dropped when the quiet period began, reported by its `busReset` event. */
  #quietDropped = 0
  #touchOnHit = false
  /** Whether L1 ever kept a {@link CopyPerHit} (until then a hit skips that check). */
  #copiesPerHit = false
  #onEvicted: StorageContext['onEvicted'] = () => undefined
  #forwardRefs = false
  /** Refs a shared bound evicted, to name in the next message. */
  #victims: EntryRef[] = []
  /** Writes under way. */
  #writing = 0
  /** Background touches under way (see {@link TieredStorage.#touch}); they never reject. */
  readonly #touching = new Set<Promise<void>>()
  // Race guard (see the class comment).
  #epoch = 0
  #pending = 0
  #flushedAt = -1
  readonly #entryEpochs = new Map<string, number>()
  readonly #scopeEpochs = new Map<string, number>()
  #closed = false

  constructor(shared: StorageProvider, options: LocalTierOptions, listener: TierListener) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('the local option must be an object such as { maxItems: 10_000 }')
    }
    if (shared.sync !== undefined) {
      throw new ConfigurationError(
        `the local option puts an in-memory tier in front of a shared storage; the ${shared.storageType} storage is in-process already`,
      )
    }
    const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS
    if (!Number.isSafeInteger(maxItems) || maxItems < 1) {
      throw new ConfigurationError(`local.maxItems must be a positive integer, got ${String(maxItems)}`)
    }
    const policy = options.policy ?? 'lru'
    if (policy !== 'lru' && policy !== 'tinylfu') {
      throw new ConfigurationError(`local.policy must be 'lru' or 'tinylfu', got ${JSON.stringify(policy)}`)
    }
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new ConfigurationError(
        `local.ttlSeconds must be a positive number of seconds, got ${String(ttlSeconds)}`,
      )
    }
    timerMs(ttlSeconds * 1000, 'local.ttlSeconds (in ms)', '{ local: { ttlSeconds: 60 } }')
    const ownBus = options.bus === undefined
    const bus = ownBus ? shared.createBus?.() : options.bus === false ? undefined : options.bus
    if (bus !== undefined && (typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function')) {
      throw new ConfigurationError('local.bus must implement Bus (subscribe, publish, close), or be false')
    }
    const breaker = options.circuitBreaker ?? {}
    if (breaker !== false) breakerSettings(breaker)
    this.shared = shared
    this.storageType = shared.storageType
    this.supportsBounds = shared.supportsBounds
    this.boundOrders = shared.boundOrders
    this.#localTtlMs = ttlSeconds * 1000
    this.#bus = bus
    this.#live = bus === undefined
    this.#publisher = new Publisher(this.origin, bus, (error) => listener.error('publish', error))
    this.#listener = listener
    this.#local.configure({
      bounds: [{ order: policy, maxItems, reason: policy === 'lru' ? 'lru' : 'maxItems' }],
      onEvicted: () => undefined,
      wantsEvictedRefs: false,
    })
    this.#breaker =
      breaker === false
        ? undefined
        : new CircuitBreaker(shared.storageType, breaker, {
            onOpen: (info) => listener.circuitOpen(info),
            onClose: (info) => {
              listener.circuitClose(info)
              this.#reset('circuit closed')
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
        this.#write(ref, value, ttlMs, (message) =>
          setFenced.call(shared, ref, value, ttlMs, token, message, options),
        )
    }
    const invalidateTags = shared.invalidateTags
    if (typeof invalidateTags === 'function') {
      this.invalidateTags = async (tags, path) => {
        this.#dropScope(path)
        const removed = await this.#removal('invalidateTags', () => invalidateTags.call(shared, tags, path), {
          kind: 'scope',
          path,
        })
        this.#dropScope(path)
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
      onReset: (reason, quietMs) => this.#busReset(reason, quietMs),
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
    if (local === MISS) return MISS
    if (this.#touchOnHit) this.#touch(ref)
    // Copies are deep-frozen (see local-copy.ts), but binary data, Maps and Sets are copied for each
    // reader; the check is skipped until such a value was ever kept.
    return this.#copiesPerHit && local instanceof CopyPerHit ? local.copy() : local
  }

  /** The read of the shared storage that `get` makes after `peek` missed (it does not look in L1 again). */
  async fill(ref: EntryRef): Promise<unknown> {
    const start = this.#epoch
    this.#pending++
    try {
      if (this.#getWithExpiry === undefined) return await this.#call('get', () => this.shared.get(ref))
      const found = (await this.#call('get', () => this.#getWithExpiry!(ref))) as StoredEntry | Miss
      return found === MISS ? MISS : this.#kept(ref, found, start)
    } finally {
      this.#done()
    }
  }

  /**
   * What a shared read that started at epoch `start` returns: a local copy is kept (with the entry's
   * expiry, capped at the local TTL) unless an invalidation touched the entry meanwhile; the reader
   * then gets the very frozen copy later hits return.
   */
  #kept(ref: EntryRef, found: StoredEntry, start: number): unknown {
    if (this.#live && !this.#invalidatedSince(ref, start)) {
      const ttlMs = found.expiresAt === undefined ? this.#localTtlMs : found.expiresAt - Date.now()
      if (ttlMs > 0) {
        const { kept, returned } = localCopy(found.value, true)
        if (kept !== NO_COPY) this.#keep(ref, kept, Math.min(ttlMs, this.#localTtlMs))
        return returned
      }
    }
    return found.value
  }

  /** See {@link TieredStorage.getWithExpiry}. */
  async #exactEntry(ref: EntryRef): Promise<StoredEntry | Miss> {
    const start = this.#epoch
    this.#pending++
    try {
      const found = (await this.#call('get', () => this.#getWithExpiry!(ref))) as StoredEntry | Miss
      return found === MISS ? MISS : { value: this.#kept(ref, found, start), expiresAt: found.expiresAt }
    } finally {
      this.#done()
    }
  }

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    await this.#write(ref, value, ttlMs, undefined, options)
  }

  /**
   * A write through the shared storage (`fenced`: through its `setFenced`, given the message to
   * publish with it or `undefined`); resolves whether it stored.
   */
  async #write(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fenced: ((message: BusMessage | undefined) => Promise<boolean>) | undefined,
    options?: WriteOptions,
  ): Promise<boolean> {
    if (this.#touching.size !== 0) await this.#touchesLanded()
    this.#dropEntry(ref)
    const start = this.#epoch
    this.#pending++
    // A lone write publishes from its own write command; concurrent ones share one message per turn.
    const alone = this.#writing === 0 && !this.#publisher.batching
    const message: BusMessage = { origin: this.origin, invalidation: { kind: 'entries', refs: [ref] } }
    const fuse = alone && (fenced === undefined ? this.#setAndPublish !== undefined : this.#ownBus)
    this.#writing++
    let sent = false
    let stored: boolean
    // Local expiry counts from before the write was sent: never later than the shared entry's.
    const sentAt = Date.now()
    try {
      stored = await this.#call('set', () => {
        sent = true
        if (fenced !== undefined) return fenced(fuse ? message : undefined)
        return fuse
          ? this.#setAndPublish!(ref, value, ttlMs, message, options).then(STORED)
          : this.shared.set(ref, value, ttlMs, options).then(STORED)
      })
      if (stored && this.#live && !this.#invalidatedSince(ref, start)) {
        const lifeMs = ttlMs === undefined ? this.#localTtlMs : Math.min(ttlMs, this.#localTtlMs)
        const leftMs = sentAt + lifeMs - Date.now()
        // A frozen clone: the caller may go on changing its own object.
        const kept = leftMs > 0 ? localCopy(value, false).kept : NO_COPY
        if (kept !== NO_COPY) this.#keep(ref, kept, leftMs)
      }
    } catch (error) {
      // A write that timed out may still land: tell the others (a fused write's script publishes
      // when it lands, this message covers the cases where it did not get that far).
      if (sent && countsAsFailure(error)) this.#publisher.queue(ref)
      throw error
    } finally {
      this.#writing--
      this.#done()
    }
    if (stored && !fuse) this.#publisher.queue(ref)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
    return stored
  }

  /**
   * The L1 copy of `ref` with the copy's expiry (at the latest the shared entry's, capped at the local
   * TTL), or `MISS`; synchronous, like {@link TieredStorage.peek}.
   */
  peekEntry(ref: EntryRef): StoredEntry | Miss {
    const local = this.#local.getWithExpiry(ref)
    if (local === MISS) return MISS
    if (this.#touchOnHit) this.#touch(ref)
    const value = this.#copiesPerHit && local.value instanceof CopyPerHit ? local.value.copy() : local.value
    return { value, expiresAt: local.expiresAt }
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
    const start = this.#epoch
    this.#pending++
    try {
      const found = await this.#call('get', () => this.#sharedMany(wanted))
      missing.forEach((index, j) => {
        const entry = found[j]!
        if (entry === MISS || this.#getWithExpiry === undefined) out[index] = entry
        else out[index] = { value: this.#kept(refs[index]!, entry, start), expiresAt: entry.expiresAt }
      })
    } finally {
      this.#done()
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
    if (this.#touching.size !== 0) await this.#touchesLanded()
    for (const write of writes) this.#dropEntry(write.ref)
    const refs = writes.map((write) => write.ref)
    const start = this.#epoch
    this.#pending++
    this.#writing++
    let sent = false
    const sentAt = Date.now()
    const shared = this.shared
    try {
      await this.#call('set', () => {
        sent = true
        return shared.setMany !== undefined
          ? shared.setMany(writes)
          : Promise.all(writes.map((w) => shared.set(w.ref, w.value, w.ttlMs))).then(() => undefined)
      })
      for (const { ref, value, ttlMs } of writes) {
        if (!this.#live || this.#invalidatedSince(ref, start)) continue
        const leftMs =
          sentAt + (ttlMs === undefined ? this.#localTtlMs : Math.min(ttlMs, this.#localTtlMs)) - Date.now()
        const kept = leftMs > 0 ? localCopy(value, false).kept : NO_COPY
        if (kept !== NO_COPY) this.#keep(ref, kept, leftMs)
      }
    } catch (error) {
      if (sent && countsAsFailure(error)) this.#publisher.queue(...refs)
      throw error
    } finally {
      this.#writing--
      this.#done()
    }
    this.#publisher.queue(...refs)
    if (this.#victims.length !== 0) this.#publisher.queue(...this.#victims.splice(0))
  }

  /** Removes every ref (the shared `deleteMany`, or one `delete` each), then one message, waited for. */
  async deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    for (const ref of refs) this.#dropEntry(ref)
    const shared = this.shared
    const removed = await this.#removal(
      'delete',
      () =>
        shared.deleteMany !== undefined
          ? shared.deleteMany(refs)
          : Promise.all(refs.map((ref) => shared.delete(ref))),
      { kind: 'entries', refs },
    )
    for (const ref of refs) this.#dropEntry(ref)
    return removed
  }

  async delete(ref: EntryRef): Promise<boolean> {
    this.#dropEntry(ref)
    const removed = await this.#removal('delete', () => this.shared.delete(ref), {
      kind: 'entries',
      refs: [ref],
    })
    this.#dropEntry(ref)
    return removed
  }

  async evictScope(path: ScopePath): Promise<number> {
    this.#dropScope(path)
    const removed = await this.#removal('evictScope', () => this.shared.evictScope(path), {
      kind: 'scope',
      path,
    })
    this.#dropScope(path)
    return removed
  }

  /**
   * A removal in the shared storage, then its message, waited for: the removal resolves once every
   * other process can have been told. A removal that failed after it was sent publishes too (it may
   * land anyway), without waiting, and rejects with its own error.
   */
  async #removal<T>(operation: string, call: () => Promise<T>, invalidation: Invalidation): Promise<T> {
    let sent = false
    let result: T
    try {
      result = await this.#call(operation, () => {
        sent = true
        return call()
      })
    } catch (error) {
      if (sent && countsAsFailure(error))
        this.#publisher.send(invalidation).catch((e: unknown) => this.#listener.error('publish', e))
      throw error
    }
    await this.#publisher.send(invalidation)
    return result
  }

  size(): Promise<number> {
    return this.#call('size', () => this.shared.size())
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#quietTimer)
    this.#local.evictScope([])
    try {
      await this.#publisher.close()
    } finally {
      await this.shared.close()
    }
  }

  /** Number of local copies (for tests and diagnostics). */
  get localSize(): number {
    return this.#local.size()
  }

  /** Puts a copy made by `localCopy` into L1 for `ttlMs`. */
  #keep(ref: EntryRef, kept: unknown, ttlMs: number): void {
    if (kept instanceof CopyPerHit) this.#copiesPerHit = true
    this.#local.set(ref, kept, ttlMs)
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
        if (found === MISS) this.#local.delete(ref)
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
      if (ref === undefined) this.#reset('a bound evicted entries it did not name')
      else {
        this.#dropEntry(ref)
        this.#victims.push(ref)
      }
    }
    this.#onEvicted(reason, count, this.#forwardRefs ? ref : undefined)
  }

  #receive(message: BusMessage): void {
    if (message.origin === this.origin || this.#closed) return
    const { invalidation } = message
    let dropped = 0
    if (invalidation.kind === 'scope') dropped = this.#dropScope(invalidation.path)
    else for (const ref of invalidation.refs) if (this.#dropEntry(ref)) dropped++
    this.#listener.busMessage({ origin: message.origin, invalidation, dropped })
  }

  /**
   * The bus (re)subscribed or may have lost messages: every copy goes. With `quietMs` (the bus
   * (re)registered this tier as a receiver), no copy is kept of anything read or written until it has
   * passed (writers may not have seen the registration yet, see `BUS_RECEIVER_TIMING`); the
   * `busReset` event comes once copies may be kept again.
   */
  #busReset(reason: string, quietMs: number | undefined): void {
    if (quietMs === undefined || quietMs <= 0) {
      if (this.#quietTimer === undefined) this.#live = true
      this.#reset(reason)
      return
    }
    this.#live = false
    this.#quietDropped += this.#dropScope([])
    clearTimeout(this.#quietTimer)
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = undefined
      if (this.#closed) return
      // A flush: what was under way during the quiet period keeps no copy when it ends (race guard).
      const dropped = this.#quietDropped + this.#dropScope([])
      this.#quietDropped = 0
      this.#live = true
      this.#listener.busReset({ reason, dropped })
    }, quietMs)
    this.#quietTimer.unref()
  }

  /** Drops every local copy: messages may have been lost. */
  #reset(reason: string): void {
    const dropped = this.#dropScope([])
    this.#listener.busReset({ reason, dropped })
  }

  #dropEntry(ref: EntryRef): boolean {
    const epoch = ++this.#epoch
    if (this.#pending !== 0) this.#entryEpochs.set(encodeEntryRef(ref), epoch)
    return this.#local.delete(ref)
  }

  #dropScope(path: ScopePath): number {
    const epoch = ++this.#epoch
    if (this.#pending !== 0) {
      if (path.length === 0) this.#flushedAt = epoch
      else this.#scopeEpochs.set(encodeScopePath(path), epoch)
    }
    return this.#local.evictScope(path)
  }

  /** Whether an invalidation of `ref`, of a scope above it, or of everything came after `start`. */
  #invalidatedSince(ref: EntryRef, start: number): boolean {
    if (this.#epoch === start) return false
    if (this.#flushedAt > start) return true
    // Encoded only when some entry was invalidated meanwhile (the ref is not encoded on every fill).
    if (this.#entryEpochs.size !== 0 && (this.#entryEpochs.get(encodeEntryRef(ref)) ?? -1) > start)
      return true
    if (this.#scopeEpochs.size === 0) return false
    for (let depth = 1; depth <= ref.scope.length; depth++) {
      if ((this.#scopeEpochs.get(encodeScopePath(ref.scope.slice(0, depth))) ?? -1) > start) return true
    }
    return false
  }

  #done(): void {
    if (--this.#pending === 0) {
      this.#entryEpochs.clear()
      this.#scopeEpochs.clear()
      this.#flushedAt = -1
    }
  }
}

/** A write that stored (the fence-less writes always do). */
const STORED = (): boolean => true
