/**
 * The storage contract: what a backend implements so that a `Cache` can use it.
 *
 * A provider stores opaque values under an {@link EntryRef}: the entry's scope path plus its key inside
 * that scope. Scope awareness is part of the contract so that every backend can index scopes natively and
 * {@link StorageProvider.evictScope} never scans the keyspace.
 *
 * Invariants every provider keeps (the conformance suite in `test/storage/conformance.ts` checks them):
 * - an entry whose TTL has passed is never returned, not even once;
 * - two different refs never share an entry, whatever characters their levels, ids and keys contain;
 * - `evictScope(path)` removes exactly the entries whose scope path starts with `path` and returns how
 *   many it removed; `evictScope([])` removes every entry of this storage and nothing else;
 * - every bound in {@link StorageContext.bounds} holds after every operation returns;
 * - evictions the provider decides on its own (bounds, expiry) are reported through
 *   {@link StorageContext.onEvicted}.
 */

/** One step of a scope path: a level name and the id of one instance of it. */
export interface ScopeSegment {
  /** The scope level's name, e.g. `'organization'`. */
  readonly level: string
  /** The instance's id at that level, e.g. the organization's id (any string). */
  readonly id: string
}

/** The path of a scope from the top-level scope down; `[]` is the global root. */
export type ScopePath = readonly ScopeSegment[]

/** The address of one entry. */
export interface EntryRef {
  /** Where the entry lives. */
  readonly scope: ScopePath
  /** The entry's key inside its scope (already canonical: direct keys and memoized calls never collide). */
  readonly key: string
}

/** Why an entry left the cache; stats count evictions per reason. */
export type EvictionReason = 'explicit' | 'expired' | 'lru' | 'maxItems' | 'scope' | 'rule' | 'tag'

/** Reasons a provider itself may report (the others are counted by the cache). */
export type AutomaticEvictionReason = 'expired' | 'lru' | 'maxItems'

/**
 * A bound that the storage enforces where the data lives, so that it holds across processes on shared
 * backends. `order: 'lru'` evicts the least recently read or written entry first; `'insertion'` evicts the
 * oldest-inserted entry first (overwriting an entry keeps its place); `'tinylfu'` (in-process storages
 * only, see {@link StorageProvider.boundOrders}) keeps the entries with the highest estimated recent
 * frequency, behind a small LRU window for new entries (W-TinyLFU).
 */
export interface BoundPolicy {
  /** Which entry goes first: see the interface comment. */
  readonly order: BoundOrder
  /**
   * At most this many entries per group (a positive integer), or `Number.POSITIVE_INFINITY` when the
   * bound only limits bytes (`maxBytes`).
   */
  readonly maxItems: number
  /**
   * Optional byte budget: the entries of a group take at most this many bytes in total (a positive
   * safe integer). An entry's size is its stored size: the serialized value's byte length on shared
   * storages, `sizeOf(value)` or an estimate (`estimateSize`) in memory. A write of an entry larger
   * than the budget is refused with an `EntryTooLargeError` before anything changes. Only a provider
   * with {@link StorageProvider.supportsByteBounds} is given such a bound.
   */
  readonly maxBytes?: number
  /** In-memory storages: the size of a value in bytes (a non-negative finite number); default `estimateSize`. */
  readonly sizeOf?: (value: unknown) => number
  /**
   * The scope level whose instances are bounded separately (`'user'`: each user's entries, its
   * descendants' included). Entries not under that level are not bounded by this policy. Absent: one
   * bound over every entry of the storage.
   */
  readonly per?: string
  /** The reason reported for evictions caused by this bound. */
  readonly reason: Extract<AutomaticEvictionReason, 'lru' | 'maxItems'>
  /**
   * Only without `per`: the scope level among whose instances (tenants) the bound is shared fairly.
   * When the bound is full, the victim is taken from the tenant holding the most entries of the bound
   * (furthest over its fair share), in that tenant's own order; entries not under that level form one
   * more tenant. Enforced by providers with {@link StorageProvider.supportsFairness}.
   */
  readonly fairness?: string
}

/** Bytes held by a storage under byte budgets (see {@link StorageProvider.byteUsage}). */
export interface ByteUsage {
  /** Bytes of every live entry (sizes as the budgets count them). */
  readonly total: number
  /**
   * The top-level scope instances (tenants) holding the most bytes, largest first, at most `topN`;
   * `scope: []` stands for the entries of the global scope.
   */
  readonly top: readonly { readonly scope: ScopePath; readonly bytes: number }[]
}

/** The eviction orders a {@link BoundPolicy} can ask for. */
export type BoundOrder = 'lru' | 'insertion' | 'tinylfu'

/** What a `Cache` hands to its storage once, before any other call. */
export interface StorageContext {
  /**
   * Bounds to enforce after every write, in this order. Shared backends identify a bound by what it
   * is (order, maxItems, per, reason), not by its position in this list: processes sharing one backend
   * whose rule lists differ (a rolling deploy) share the bounds they have in common, and a bound that
   * only some processes configure is enforced on their writes.
   */
  readonly bounds: readonly BoundPolicy[]
  /**
   * When set, the provider reclaims expired entries nobody reads at this interval (in milliseconds),
   * with one timer that does not keep the process alive. Expired entries are never returned either way.
   */
  readonly sweepIntervalMs?: number
  /** Called for every entry the provider evicted on its own; `ref` when the provider knows it. */
  readonly onEvicted: (reason: AutomaticEvictionReason, count: number, ref?: EntryRef) => void
  /**
   * Whether `onEvicted` needs the ref (a custom rule, an event listener or the per-scope stats want it);
   * providers may skip building it otherwise. It changes while the storage is attached (listeners come
   * and go), so read it at each report rather than once in `attach`.
   */
  readonly wantsEvictedRefs: boolean
}

/** Marker returned by `get` for a miss, so that stored `undefined` and `null` are real hits. */
export const MISS: unique symbol = Symbol('cacheado.miss')
/** Type of {@link MISS}. */
export type Miss = typeof MISS

/**
 * What a write carries besides its value and TTL. Every field is optional; `undefined` (or `{}`) is a
 * plain write.
 */
export interface WriteOptions {
  /**
   * Tags of the entry (see {@link StorageProvider.invalidateTags}): checked by the cache (non-empty,
   * well-formed strings without control characters, see `MAX_TAGS_PER_ENTRY`), distinct. The write
   * replaces the entry's tags: an entry written again with other tags, or none, leaves the indexes of
   * its old tags in the same step. Only a provider with `invalidateTags` is given tags.
   */
  readonly tags?: readonly string[]
}

/** The synchronous side of a storage that can answer without I/O (the in-memory one). */
export interface SyncStorageOperations {
  /** The value of `ref`, or `MISS` (expired entries are misses). */
  get(ref: EntryRef): unknown
  /** `ttlMs` is a positive number of milliseconds, or `undefined` for no expiry. */
  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): void
  /** Removes `ref`; whether it existed. */
  delete(ref: EntryRef): boolean
  /** Removes every entry at or under `path`; how many. */
  evictScope(path: ScopePath): number
  /** Synchronous {@link StorageProvider.invalidateTags}. */
  invalidateTags?(tags: readonly string[], path: ScopePath): number
  /** Live entries. */
  size(): number
  /**
   * Optional: the value of `ref` with its expiry, or `MISS` (a read like `get`: it marks the entry used
   * for LRU bounds). Enables `cache.expiresAtSync` and the expiry of `getWithMetadataSync`.
   */
  getWithExpiry?(ref: EntryRef): StoredEntry | Miss
  /** Optional: synchronous {@link StorageProvider.byteUsage}. */
  byteUsage?(topN: number): ByteUsage | undefined
  /**
   * Optional, with {@link SyncStorageOperations.getByHandle}: a handle to the entry of `ref`, or
   * `undefined` when there is none. Not a read (the entry is not marked used). Memoized functions keep
   * one per argument, so that a hit skips the key lookup.
   */
  handleOf?(ref: EntryRef): EntryHandle | undefined
  /**
   * The value of the handle's entry, read as `get` reads it; `MISS` once that entry is gone (removed by
   * any path: delete, scope eviction, tag invalidation, bound, expiry, clear). A write to the same ref
   * after a removal is a new entry: the caller then reads by ref and takes a new handle.
   */
  getByHandle?(handle: EntryHandle): unknown
}

/** An opaque handle to one stored entry (see {@link SyncStorageOperations.handleOf}). */
export interface EntryHandle {
  /** Opaque: only the storage that made the handle reads it. */
  readonly __entryHandle?: never
}

/**
 * A storage backend. Every method returns a Promise and reports failure by rejecting; the `Cache`
 * wraps any non-`CacheError` rejection in a `StorageError`.
 */
export interface StorageProvider {
  /** Short name reported by `stats().storageType`, e.g. `'in_memory'`, `'redis'`. */
  readonly storageType: string
  /** Whether the provider enforces {@link StorageContext.bounds}; a cache refuses bounds otherwise. */
  readonly supportsBounds: boolean
  /**
   * Optional: the {@link BoundPolicy} orders the provider enforces when `supportsBounds` is true;
   * absent means `['lru', 'insertion']`. A cache refuses, at construction, a bound whose order is not
   * listed (e.g. `TinyLFUEvict` on a shared backend).
   */
  readonly boundOrders?: readonly BoundOrder[]
  /**
   * Optional: whether the provider enforces {@link BoundPolicy.maxBytes} (byte budgets, with the same
   * guarantees as `maxItems`: across processes on shared backends). A cache refuses, at construction,
   * a byte budget on a provider without it.
   */
  readonly supportsByteBounds?: boolean
  /**
   * Optional (byte budgets): the bytes the entries take, in total and for the `topN` top-level scope
   * instances (tenants) holding the most; `undefined` when no bound of this storage has `maxBytes`
   * (sizes are then not kept). Feeds `stats().bytes`.
   */
  byteUsage?(topN: number): Promise<ByteUsage | undefined>
  /**
   * Optional: whether the provider enforces {@link BoundPolicy.fairness} (choosing victims by fair
   * share). Absent or false: a cache refuses a fair bound at construction with a `ConfigurationError`.
   */
  readonly supportsFairness?: boolean
  /** Present when the provider can answer synchronously; enables `getSync`, `setSync`, ... */
  readonly sync?: SyncStorageOperations
  /** Present when the provider offers cross-process entry locks (see {@link EntryLocks}). */
  readonly locks?: EntryLocks
  /** Called once by the cache that owns this storage, before any other method. */
  attach(context: StorageContext): void
  /** The stored value, or {@link MISS}. */
  get(ref: EntryRef): Promise<unknown>
  /**
   * Stores `value`, replacing any entry under `ref`; `ttlMs` undefined means no expiry. `options.tags`
   * (only given to a provider with {@link StorageProvider.invalidateTags}): the entry's tags.
   */
  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void>
  /** Removes one entry; resolves whether it existed. */
  delete(ref: EntryRef): Promise<boolean>
  /**
   * Removes every entry at or under `path` (`[]`: all of this storage's entries); resolves the count.
   * The count may include entries whose TTL had passed but that were not reclaimed yet.
   */
  evictScope(path: ScopePath): Promise<number>
  /**
   * Optional (tags): removes every entry at or under `path` (`[]`: the whole storage) that carries at
   * least one of `tags` (1 to `MAX_TAGS_PER_INVALIDATION` checked strings); resolves how many entries
   * it removed. As for `evictScope`, the count may include entries whose TTL had passed but that were
   * not reclaimed yet.
   *
   * Invariants (the conformance suite checks them): the indexes are eager, so a read of a tagged entry
   * costs what a read of an untagged one costs, and an invalidation costs O(entries carrying the tags)
   * (plus O(tenants) for `path = []` on a sharded backend), never a scan; an entry re-written with other
   * tags (or none) is found only by its new ones; entries removed by any other means (delete, scope
   * eviction, bounds, expiry) leave no index garbage beyond their TTL, the next sweep, or the next
   * invalidation of their tags; an invalidation also fences like an eviction of `path` (see
   * {@link StorageProvider.fence}): a fenced write whose fence was taken before it started is refused.
   */
  invalidateTags?(tags: readonly string[], path: ScopePath): Promise<number>
  /** Number of live entries. */
  size(): Promise<number>
  /** Releases timers and connections. */
  close(): Promise<void>
  /**
   * Optional: the stored value together with its expiry (one round trip), or {@link MISS}. A local
   * tier in front of this storage needs the expiry to keep a copy of an entry it did not write without
   * outliving the entry's TTL; without this method it keeps copies of its own writes only. The expiry
   * may be reported earlier than the real one, never later.
   */
  getWithExpiry?(ref: EntryRef): Promise<StoredEntry | Miss>
  /**
   * Optional: the live entries stored directly in the scope `path` (not in its descendants), as
   * `[key, value]` pairs in no particular order, in one answer: O(entries of the scope node). An entry
   * written or removed meanwhile may or may not be listed. `cacheado/keyv` needs it for Keyv's
   * `iterator()`.
   */
  list?(path: ScopePath): Promise<ReadonlyArray<readonly [key: string, value: unknown]>>
  /**
   * Optional bulk read: the values of `refs` in the order asked, {@link MISS} for each miss; `refs`
   * may repeat. In as few round trips as the backend allows (Redis: one `MGET` per hash slot, sent
   * together; MongoDB: one `find`). Each entry read is marked used for LRU bounds, as `get` would.
   * Without it, the cache reads the refs one by one (concurrently) with `get`.
   */
  getMany?(refs: readonly EntryRef[]): Promise<unknown[]>
  /**
   * Optional: {@link StorageProvider.getMany} answering each entry with its expiry (as
   * {@link StorageProvider.getWithExpiry} reports it: never later than the real one). A local tier
   * reads the misses of a bulk read this way, to keep copies; without it, with `getWithExpiry` per ref.
   */
  getManyWithExpiry?(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]>
  /**
   * Optional bulk write: `set` of every write, later writes of a ref winning. Every value is checked
   * and encoded before anything is sent (a value the provider refuses rejects the whole call with
   * nothing written); bounds hold when it resolves. Without it, the cache writes one by one.
   */
  setMany?(writes: readonly EntryWrite[]): Promise<void>
  /**
   * Optional bulk removal: `delete` of every ref, resolving whether each one existed, in the order
   * asked (`refs` do not repeat). Without it, the cache deletes one by one (concurrently).
   */
  deleteMany?(refs: readonly EntryRef[]): Promise<boolean[]>
  /**
   * Optional: a new invalidation bus between the processes sharing this storage (Redis: pub/sub on a
   * channel derived from the prefix). A cache with a local tier uses it by default; the caller owns the
   * bus and closes it.
   */
  createBus?(): Bus
  /**
   * Optional: `set`, and in the same step publish `message` on the bus that {@link createBus} makes
   * (Redis: from the write script). A local tier in front of this storage, using that bus, writes this
   * way: one command instead of two, and no successful write without its message.
   */
  setAndPublish?(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    message: BusMessage,
    options?: WriteOptions,
  ): Promise<void>
  /**
   * Optional, with {@link StorageProvider.invalidateTags} and {@link createBus}: `invalidateTags`, then
   * `message` published on the bus that `createBus` makes, once the entries are removed (Redis: a
   * scoped invalidation publishes from its own script). Caches publish a tag invalidation this way:
   * one command instead of two. `tags` is non-empty.
   */
  invalidateTagsAndPublish?(tags: readonly string[], path: ScopePath, message: BusMessage): Promise<number>
  /**
   * Optional, with {@link StorageProvider.setFenced}: a snapshot of the evictions that cover `ref`, taken
   * before a computation whose result is then written with `setFenced`. Memoized calls (and other
   * computed writes) take one before they call the function, so that nothing computed before an
   * eviction is stored after it, in this process or in any other that shares the storage.
   *
   * A storage used by one process only (the in-memory one) needs neither method: the cache invalidates
   * its own running computations when an eviction starts.
   */
  fence?(ref: EntryRef): Promise<WriteFence>
  /**
   * Optional, with {@link StorageProvider.fence}: {@link StorageProvider.set}, atomically with a check
   * that no eviction covering `ref` (an `evictScope` of its scope or of an ancestor, `evictScope([])`)
   * was applied by any process since `fence` was taken; resolves whether it stored. A provider may
   * refuse more often than that (a coarser grain, e.g. any eviction in the same top-level scope, or a
   * fence older than the provider's retention window), never less. `message` as in
   * {@link StorageProvider.setAndPublish}: published in the same step, only if the value was stored.
   */
  setFenced?(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
    message?: BusMessage,
    options?: WriteOptions,
  ): Promise<boolean>
}

/**
 * An opaque snapshot returned by {@link StorageProvider.fence}; only the provider that made it reads it.
 * It is plain data (it may be kept for the length of a computation, never persisted).
 */
export type WriteFence = object

/** One write of {@link StorageProvider.setMany}: `ttlMs` as in `set` (undefined: no expiry). */
export interface EntryWrite {
  /** Where to write. */
  readonly ref: EntryRef
  /** The value to store. */
  readonly value: unknown
  /** A positive number of milliseconds, or `undefined` for no expiry. */
  readonly ttlMs: number | undefined
}

/** A stored value with its expiry, as answered by {@link StorageProvider.getWithExpiry}. */
export interface StoredEntry {
  /** The stored value. */
  readonly value: unknown
  /** When the entry expires, in epoch milliseconds on this process's clock; `undefined`: never. */
  readonly expiresAt: number | undefined
}

/**
 * What one process tells the others through a {@link Bus}: which entries they must drop from their
 * local tier. Values never travel on the bus, only addresses.
 * - `entries`: these entries were written or removed;
 * - `scope`: every entry at or under `path` was removed (`[]`: the whole cache was cleared).
 */
export type Invalidation =
  | { readonly kind: 'entries'; readonly refs: readonly EntryRef[] }
  | { readonly kind: 'scope'; readonly path: ScopePath }

/** An {@link Invalidation} with the id of the process (the local tier) that sent it. */
export interface BusMessage {
  /** Id of the sending local tier; a tier ignores its own messages. */
  readonly origin: string
  /** What to drop: one entry, or a scope and everything under it. */
  readonly invalidation: Invalidation
}

/** What a bus calls back into its subscriber. */
export interface BusHandlers {
  /** A message from any process (its own included: filter on `origin`). */
  readonly onMessage: (message: BusMessage) => void
  /**
   * Messages may have been lost (the bus reconnected, or could not decode a message): the subscriber
   * must forget every local copy. Called once the bus receives messages again.
   *
   * `quietMs` (buses with {@link Bus.receivers}, when this subscriber was (re)registered as a receiver):
   * for that long from now, writers that looked the receivers up before the registration may still
   * write without announcing it, so the subscriber keeps no copy of anything it read or wrote before
   * that time has passed (see {@link BUS_RECEIVER_TIMING}).
   */
  readonly onReset: (reason: string, quietMs?: number) => void
  /** A failure of the bus itself (it keeps trying to recover on its own). */
  readonly onError: (error: unknown) => void
  /** The subscriber's own origin: a bus may drop these messages without decoding them. */
  readonly origin?: string
}

/**
 * An invalidation bus between the processes sharing one storage (at-most-once delivery is enough:
 * a bus reports possible loss through `onReset`). Implementations: `RedisBus` in `cacheado/redis`.
 */
export interface Bus {
  /** Starts delivering messages to `handlers`; called once. */
  subscribe(handlers: BusHandlers): void
  /** Sends a message to every subscriber on this bus; rejects when it could not be sent. */
  publish(message: BusMessage): Promise<void>
  /** Stops delivering and releases the bus's own connection. */
  close(): Promise<void>
  /**
   * Optional: how many subscribers are registered as receivers now (at least: a count may include
   * lapsed ones, never miss a live one). A process without a local tier skips announcing its plain
   * writes while the answer is 0, under the rules of {@link BUS_RECEIVER_TIMING}, which a bus that
   * has this method must keep (its `onReset` after a (re)registration passes `quietMs`). Without it,
   * every write is announced.
   */
  receivers?(): Promise<number>
}

/**
 * The timing that lets a process without a local tier skip announcing plain writes while no process
 * has a local tier to tell ({@link Bus.receivers} answered 0), without a stale copy anywhere:
 *
 * - a writer trusts an answer of 0 only for writes it sends within `answerFreshMs` of sending the
 *   question, and announces a write anyway when it took longer than `slowWriteMs` to be acknowledged;
 * - a receiver that was (re)registered keeps no copy of what it read or wrote during the following
 *   `quietMs` (the bus passes it to `onReset`).
 *
 * `quietMs > answerFreshMs + slowWriteMs`: a write that a writer left unannounced because it did not
 * yet see a new receiver has landed before that receiver's quiet period ends, so the receiver's first
 * kept copy is read after it.
 */
export const BUS_RECEIVER_TIMING = Object.freeze({ answerFreshMs: 300, slowWriteMs: 100, quietMs: 500 })

/**
 * A lock on one entry, held by one process until released or until its TTL passes. Returned by
 * {@link EntryLocks.acquire}; `token` identifies the holder, so only it can release or extend the lock.
 */
export interface LockHandle {
  /** The entry the lock is for. */
  readonly ref: EntryRef
  /** Identifies the holder: only it can release or extend the lock. */
  readonly token: string
}

/**
 * Optional capability of a shared storage: exclusive, expiring locks on entries, seen by every process
 * that uses the same backend. Memoization uses it for stampede protection across processes
 * (`cache.cache({ lock: true })`).
 *
 * Invariants: at most one unexpired lock per ref exists at any time; a lock expires `ttlMs` after it was
 * acquired or last extended, so a holder that crashed blocks the others at most that long; `release`
 * and `extend` act only on the lock of that `token` (never on a later holder's lock). A lock lives
 * apart from the entries: it is not an entry, not counted by `size`, not removed by `evictScope`.
 */
export interface EntryLocks {
  /** Tries once, without waiting: a handle if the lock on `ref` was free, `undefined` if it is held. */
  acquire(ref: EntryRef, ttlMs: number): Promise<LockHandle | undefined>
  /** Sets the lock's remaining time to `ttlMs` again; resolves false if it is no longer held by `handle`. */
  extend(handle: LockHandle, ttlMs: number): Promise<boolean>
  /** Releases the lock if `handle` still holds it; resolves whether it did. */
  release(handle: LockHandle): Promise<boolean>
  /** Present when the provider also offers counting semaphores per scope (see {@link ScopeSemaphores}). */
  readonly semaphores?: ScopeSemaphores
}

/** One slot of a {@link ScopeSemaphores} semaphore, held until released or until its TTL passes. */
export interface LeaseHandle {
  /** The scope the semaphore belongs to (`[]`: global). */
  readonly scope: ScopePath
  /** The semaphore's name inside that scope. */
  readonly name: string
  /** Identifies the holder: only it can release or extend the lease. */
  readonly token: string
}

/**
 * Optional capability of a shared storage (offered through {@link EntryLocks.semaphores}): counting
 * semaphores named per scope, seen by every process that uses the same backend. Memoization and
 * `getOrSet` use it for `maxConcurrent` with `lock` (at most `limit` factory runs per tenant across
 * processes).
 *
 * Invariants: `acquire` grants a lease only while fewer than `limit` unexpired leases of `(scope, name)`
 * exist (the check and the grant are one atomic step); a lease expires `ttlMs` after it was acquired or
 * last extended, so a crashed holder keeps its slot at most that long; `release` and `extend` act only
 * on the lease of that token. Semaphores live apart from the entries (not counted by `size`, not
 * removed by `evictScope`), and a semaphore of one scope never counts another scope's leases.
 */
export interface ScopeSemaphores {
  /** Tries once, without waiting: a lease if fewer than `limit` are held, `undefined` otherwise. */
  acquire(scope: ScopePath, name: string, limit: number, ttlMs: number): Promise<LeaseHandle | undefined>
  /** Sets the lease's remaining time to `ttlMs` again; resolves false if it is no longer held. */
  extend(lease: LeaseHandle, ttlMs: number): Promise<boolean>
  /** Releases the lease if still held; resolves whether it was. */
  release(lease: LeaseHandle): Promise<boolean>
}

/** A provider that also answers synchronously. */
export interface SyncStorageProvider extends StorageProvider {
  readonly sync: SyncStorageOperations
}
