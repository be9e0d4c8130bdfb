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
  readonly level: string
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
export type EvictionReason = 'explicit' | 'expired' | 'lru' | 'maxItems' | 'scope' | 'rule'

/** Reasons a provider itself may report (the others are counted by the cache). */
export type AutomaticEvictionReason = 'expired' | 'lru' | 'maxItems'

/**
 * A bound that the storage enforces where the data lives, so that it holds across processes on shared
 * backends. `order: 'lru'` evicts the least recently read or written entry first; `'insertion'` evicts the
 * oldest-inserted entry first (overwriting an entry keeps its place).
 */
export interface BoundPolicy {
  readonly order: 'lru' | 'insertion'
  /** At most this many entries per group (a positive integer). */
  readonly maxItems: number
  /**
   * The scope level whose instances are bounded separately (`'user'`: each user's entries, its
   * descendants' included). Entries not under that level are not bounded by this policy. Absent: one
   * bound over every entry of the storage.
   */
  readonly per?: string
  /** The reason reported for evictions caused by this bound. */
  readonly reason: Extract<AutomaticEvictionReason, 'lru' | 'maxItems'>
}

/** What a `Cache` hands to its storage once, before any other call. */
export interface StorageContext {
  /**
   * Bounds to enforce after every write, in this order. Shared backends identify a bound by its
   * position in this list, so every process sharing one backend (one Redis prefix, one MongoDB
   * collection) must configure the same rules in the same order.
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

/** The synchronous side of a storage that can answer without I/O (the in-memory one). */
export interface SyncStorageOperations {
  get(ref: EntryRef): unknown
  /** `ttlMs` is a positive number of milliseconds, or `undefined` for no expiry. */
  set(ref: EntryRef, value: unknown, ttlMs: number | undefined): void
  delete(ref: EntryRef): boolean
  evictScope(path: ScopePath): number
  size(): number
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
  /** Present when the provider can answer synchronously; enables `getSync`, `setSync`, ... */
  readonly sync?: SyncStorageOperations
  /** Called once by the cache that owns this storage, before any other method. */
  attach(context: StorageContext): void
  /** The stored value, or {@link MISS}. */
  get(ref: EntryRef): Promise<unknown>
  /** Stores `value`, replacing any entry under `ref`; `ttlMs` undefined means no expiry. */
  set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void>
  /** Removes one entry; resolves whether it existed. */
  delete(ref: EntryRef): Promise<boolean>
  /**
   * Removes every entry at or under `path` (`[]`: all of this storage's entries); resolves the count.
   * The count may include entries whose TTL had passed but that were not reclaimed yet.
   */
  evictScope(path: ScopePath): Promise<number>
  /** Number of live entries. */
  size(): Promise<number>
  /** Releases timers and connections. */
  close(): Promise<void>
}

/** A provider that also answers synchronously. */
export interface SyncStorageProvider extends StorageProvider {
  readonly sync: SyncStorageOperations
}
