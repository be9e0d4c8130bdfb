import type { CacheError } from './errors.js'
import {
  CacheClosedError,
  ConfigurationError,
  InvalidArgumentError,
  StorageError,
  CacheError as BaseError,
} from './errors.js'
import type { CacheEvents, EvictEventReason, OperationOutcome, TimedOperation } from './events.js'
import { CacheEventEmitter } from './events.js'
import { directKey, parseEntryKey } from './keys/entry-key.js'
import type { MemoHost } from './memoize/host.js'
import type { Memoizer, MemoizeOptions } from './memoize/memoize.js'
import { createMemoizer } from './memoize/memoize.js'
import { SingleFlight } from './memoize/single-flight.js'
import type { StatsBreakdown, StatsTrackingOptions } from './observability/scope-stats.js'
import { ScopeStatsTracker } from './observability/scope-stats.js'
import { EVICTIONS, HITS, MISSES, SETS } from './observability/top-k.js'
import type { CacheRule, RuleEffect } from './rules/contract.js'
import { RuleEngine } from './rules/engine.js'
import type { DefaultScopeConfig } from './scopes/scope-config.js'
import { defaultScopeConfig, isWellFormed, ScopeConfig } from './scopes/scope-config.js'
import type { ScopeLevelShape } from './scopes/scope-level.js'
import type { GlobalScope, ScopeName, ScopeParams, ScopeSelector } from './scopes/types.js'
import type { CacheCounters, CacheStats } from './stats.js'
import { StatsCounter } from './stats.js'
import type {
  AutomaticEvictionReason,
  EntryRef,
  Miss,
  ScopePath,
  StorageProvider,
  SyncStorageOperations,
  SyncStorageProvider,
  WriteFence,
} from './storage/contract.js'
import { MISS } from './storage/contract.js'
import { encodeEntryRef, encodeScopePath } from './storage/key-encoding.js'
import { InMemory } from './storage/memory/in-memory.js'
import { ttlToMs } from './ttl.js'
import type { LocalTierOptions } from './tiers/tiered-storage.js'
import { TieredStorage } from './tiers/tiered-storage.js'
import { publishing } from './tiers/publishing-storage.js'

/** Options of `new Cache(options)`; every one is optional. */
export interface CacheOptions<
  SC extends ScopeConfig<readonly ScopeLevelShape[]>,
  St extends StorageProvider,
> {
  /** The scope hierarchy. Default: organization (`orgId`) > user (`userId`) > session (`sessionId`). */
  readonly scopes?: SC
  /** Where entries live. Default: a new `InMemory()`. A storage belongs to one cache. */
  readonly storage?: St
  /** Storage rules (bounds, sweeping, custom hooks); see the README for how they compose. */
  readonly rules?: readonly CacheRule[]
  /** TTL for writes and memoized results that do not give one. Default: no expiry. */
  readonly defaultTtlSeconds?: number
  /**
   * An in-process tier in front of a shared storage (Redis, MongoDB), kept coherent across processes
   * by a bus, with a circuit breaker around the shared storage. See "Two tiers" in the README.
   */
  readonly local?: LocalTierOptions
  /**
   * Turns on the per-scope-level and per-namespace breakdown of `stats({ breakdown: true })`, with bounded
   * memory: `{ topN: 100 }` keeps the 100 most active tenants per level, the rest add up in `other`. Off
   * by default (it costs a few map updates per operation); the global counters are always on.
   */
  readonly stats?: StatsTrackingOptions<LevelName<SC>>
}

/** The names of a configuration's scope levels (every scope name but `'global'`). */
export type LevelName<SC> = Exclude<ScopeName<SC>, GlobalScope>

/** Options of `cache.stats(options)`. */
export interface StatsQuery {
  /** Adds the per-scope and per-namespace breakdown; needs `new Cache({ stats: { ... } })`. */
  readonly breakdown?: boolean
}

/** What `cache.stats({ breakdown: true })` returns. */
export type CacheStatsWithBreakdown<SC> = CacheStats & StatsBreakdown<LevelName<SC>>

/** Options of reads and evictions: the scope of the entry. */
export type ScopeOptions<SC> = ScopeSelector<SC>

/** Options of writes: the scope of the entry and its TTL. */
export type SetOptions<SC> = ScopeSelector<SC> & {
  /** Time to live in seconds (fractions allowed); absent: the cache's default, or no expiry. */
  readonly ttlSeconds?: number
}

const READ_OPTIONS: ReadonlySet<string> = new Set(['scope'])
const WRITE_OPTIONS: ReadonlySet<string> = new Set(['scope', 'ttlSeconds'])

/**
 * A cache with hierarchical scopes. Every operation returns a Promise on every storage and reports
 * errors by rejecting; over a synchronous storage (the default in-memory one) the `...Sync` twins
 * exist too.
 *
 * ```ts
 * const cache = new Cache()
 * await cache.set('settings', { theme: 'dark' }, { scope: 'user', orgId: 'o1', userId: 'u1', ttlSeconds: 60 })
 * await cache.evictByScope('organization', { orgId: 'o1' }) // 1
 * ```
 */
export class Cache<
  SC extends ScopeConfig<readonly ScopeLevelShape[]> = DefaultScopeConfig,
  St extends StorageProvider = InMemory,
> extends CacheEventEmitter {
  /** The scope hierarchy in use. */
  readonly scopes: SC
  /** The storage in use (the shared one when `local` is given). */
  readonly storage: St
  /** What operations call: the storage, or the two tiers in front of it. */
  readonly #store: StorageProvider
  /** The two tiers, when `local` is given (their L1 answers hits without a promise). */
  readonly #tiered: TieredStorage | undefined
  readonly #rules: RuleEngine
  readonly #stats = new StatsCounter()
  readonly #sync: SyncStorageOperations | undefined
  readonly #namespaces = new Set<string>()
  readonly #flights = new SingleFlight()
  readonly #defaultTtlMs: number | undefined
  readonly #host: MemoHost
  readonly #tracker: ScopeStatsTracker | undefined
  /** Whether anything observes operations (a listener of an entry or operation event, or the tracker). */
  #observed = false
  /** Whether an `operation` listener exists: only then is the clock read. */
  #timing = false
  /** Whether evicted entries must be identified (evict/expire listeners or the tracker). */
  #wantsRefs = false
  #closed = false

  constructor(options: CacheOptions<SC, St> = {}) {
    super()
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('new Cache(options) expects an options object or nothing')
    }
    const scopes = options.scopes ?? (defaultScopeConfig() as unknown as SC)
    if (!(scopes instanceof ScopeConfig)) {
      throw new ConfigurationError(
        'the scopes option must be a ScopeConfig, e.g. new ScopeConfig([new ScopeLevel(...)])',
      )
    }
    this.scopes = scopes
    this.storage = options.storage ?? (new InMemory() as unknown as St)
    const storage: Partial<StorageProvider> | null = this.storage
    if (
      storage === null ||
      typeof storage !== 'object' ||
      typeof storage.get !== 'function' ||
      typeof storage.attach !== 'function'
    ) {
      throw new ConfigurationError(
        'the storage option must implement StorageProvider (InMemory, RedisStorage, MongoDBStorage, ...)',
      )
    }
    this.#tiered = options.local === undefined ? undefined : this.#tiers(options.local)
    // Without a local tier, changes are still announced on the storage's bus (other processes' L1s).
    this.#store = this.#tiered ?? publishing(this.storage, (error) => this.#report('publish', error))
    const levels = scopes.names.filter((n) => n !== 'global')
    this.#rules = new RuleEngine(
      options.rules ?? [],
      (name) => name !== 'global' && scopes.has(name),
      levels,
      (error) => this.#report('rule', error),
    )
    if (this.#rules.bounds.length !== 0 && !this.storage.supportsBounds) {
      throw new ConfigurationError(
        `the ${this.storage.storageType} storage does not enforce bounds, so LRUEvict/MaxItemsEvict cannot be used with it`,
      )
    }
    this.#defaultTtlMs =
      options.defaultTtlSeconds === undefined
        ? undefined
        : ttlToMs(options.defaultTtlSeconds, 'defaultTtlSeconds', 'configuration')
    this.#tracker = options.stats === undefined ? undefined : new ScopeStatsTracker(options.stats, levels)
    this.listenersChanged()
    this.#sync = this.#store.sync
    const rules = this.#rules
    const wantsRefs = () => this.#wantsRefs
    this.#store.attach({
      bounds: rules.bounds,
      sweepIntervalMs: rules.sweepIntervalMs,
      get wantsEvictedRefs() {
        return rules.listensToEvictions || wantsRefs()
      },
      onEvicted: (reason, count, ref) => this.#onEvicted(reason, count, ref),
    })
    this.#host = this.#memoHost()
  }

  /** The value stored under `key` in the given scope, or `undefined` on a miss. */
  async get<V = unknown>(key: string, options?: ScopeOptions<SC>): Promise<V | undefined> {
    const ref = this.#ref('get', key, options, READ_OPTIONS)
    const local = this.#tiered === undefined ? MISS : this.#tiered.peek(ref)
    const value = this.#sync
      ? this.#readSync(ref, false)
      : local !== MISS
        ? this.#observed
          ? this.#afterReadObserved(ref, local, this.#timing ? performance.now() : -1)
          : this.#afterRead(ref, local)
        : await this.#read(ref, false)
    return value === MISS ? undefined : (value as V)
  }

  /** Stores `value` under `key` in the given scope, replacing any previous value. */
  async set(key: string, value: unknown, options?: SetOptions<SC>): Promise<void> {
    const ref = this.#ref('set', key, options, WRITE_OPTIONS)
    const ttlMs = this.#ttl(options)
    if (this.#sync) this.#writeSync(ref, value, ttlMs, false)
    else await this.#write(ref, value, ttlMs, false)
  }

  /** Removes one entry; resolves whether there was a live one. */
  async evict(key: string, options?: ScopeOptions<SC>): Promise<boolean> {
    const ref = this.#ref('evict', key, options, READ_OPTIONS)
    const removed = this.#sync
      ? this.#guard('evict', () => this.#sync!.delete(ref), true)
      : await this.#call('evict', () => this.#store.delete(ref), true)
    return this.#afterDelete(ref, removed)
  }

  /**
   * Removes every entry of one scope instance and of its descendants (`'global'`: every entry of this
   * cache); resolves how many entries were removed. Costs O(entries in that scope) on every storage.
   */
  async evictByScope<N extends ScopeName<SC>>(scope: N, params?: ScopeParams<SC, N>): Promise<number> {
    const path = this.#scopePath('evictByScope', scope, params)
    // Running computations of the scope must not store once the eviction has started (their result
    // may land between the eviction's round trips), not only once it resolved.
    this.#flights.invalidate(encodeScopePath(path))
    const removed = this.#sync
      ? this.#guard('evictByScope', () => this.#sync!.evictScope(path), true)
      : await this.#call('evictByScope', () => this.#store.evictScope(path), true)
    return this.#afterScopeEviction(path, removed)
  }

  /** Removes every entry of this cache (only this cache's: other data in a shared backend is kept). */
  async clear(): Promise<number> {
    return this.evictByScope('global' as ScopeName<SC>)
  }

  /**
   * Counters since creation, and the storage's live entry count. `{ breakdown: true }` adds the
   * per-scope and per-namespace breakdown (`byScope`, `byNamespace`) of a cache created with the
   * `stats` option. While the storage cannot answer, `totalKeys` is `undefined` (the failure is an
   * `error` event) and the counters are answered all the same.
   */
  stats(): Promise<CacheStats>
  stats(options: StatsQuery & { readonly breakdown: true }): Promise<CacheStatsWithBreakdown<SC>>
  stats(options?: StatsQuery): Promise<CacheStats | CacheStatsWithBreakdown<SC>>
  async stats(options?: StatsQuery): Promise<CacheStats | CacheStatsWithBreakdown<SC>> {
    this.#checkOpen('stats')
    const breakdown = this.#breakdownOf('stats', options)
    let totalKeys: number | undefined
    try {
      totalKeys = this.#sync
        ? this.#guard('stats', () => this.#sync!.size())
        : await this.#call('stats', () => this.#store.size())
    } catch (error) {
      this.#report('stats', error)
    }
    return this.#snapshot(totalKeys, breakdown)
  }

  /**
   * The counters of {@link Cache.stats} without `totalKeys`: synchronous on every storage, no I/O, so it
   * answers while the storage is down and after `close()` (metric exporters read it at each scrape).
   */
  counters(): CacheCounters
  counters(options: StatsQuery & { readonly breakdown: true }): CacheCounters & StatsBreakdown<LevelName<SC>>
  counters(options?: StatsQuery): CacheCounters | (CacheCounters & StatsBreakdown<LevelName<SC>>)
  counters(options?: StatsQuery): CacheCounters | (CacheCounters & StatsBreakdown<LevelName<SC>>) {
    const { totalKeys: _, ...counters } = this.#snapshot(0, this.#breakdownOf('counters', options))
    return counters
  }

  /** Whether `stats({ breakdown: true })` is available: the cache was created with the `stats` option. */
  get tracksBreakdown(): boolean {
    return this.#tracker !== undefined
  }

  /** Synchronous {@link Cache.get}; needs a synchronous storage such as `InMemory`. */
  getSync<V = unknown>(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    options?: ScopeOptions<SC>,
  ): V | undefined {
    const ref = this.#ref('getSync', key, options, READ_OPTIONS)
    this.#requireSync('getSync')
    const value = this.#readSync(ref, false)
    return value === MISS ? undefined : (value as V)
  }

  /** Synchronous {@link Cache.set}. */
  setSync(this: Cache<SC, SyncStorageProvider>, key: string, value: unknown, options?: SetOptions<SC>): void {
    const ref = this.#ref('setSync', key, options, WRITE_OPTIONS)
    this.#requireSync('setSync')
    this.#writeSync(ref, value, this.#ttl(options), false)
  }

  /** Synchronous {@link Cache.evict}. */
  evictSync(this: Cache<SC, SyncStorageProvider>, key: string, options?: ScopeOptions<SC>): boolean {
    const ref = this.#ref('evictSync', key, options, READ_OPTIONS)
    const sync = this.#requireSync('evictSync')
    return this.#afterDelete(
      ref,
      this.#guard('evict', () => sync.delete(ref), true),
    )
  }

  /** Synchronous {@link Cache.evictByScope}. */
  evictByScopeSync<N extends ScopeName<SC>>(
    this: Cache<SC, SyncStorageProvider>,
    scope: N,
    params?: ScopeParams<SC, N>,
  ): number {
    const path = this.#scopePath('evictByScopeSync', scope, params)
    const sync = this.#requireSync('evictByScopeSync')
    return this.#afterScopeEviction(
      path,
      this.#guard('evictByScope', () => sync.evictScope(path), true),
    )
  }

  /** Synchronous {@link Cache.clear}. */
  clearSync(this: Cache<SC, SyncStorageProvider>): number {
    return this.evictByScopeSync('global' as ScopeName<SC>)
  }

  /** Synchronous {@link Cache.stats}. */
  statsSync(this: Cache<SC, SyncStorageProvider>): CacheStats
  statsSync(
    this: Cache<SC, SyncStorageProvider>,
    options: StatsQuery & { readonly breakdown: true },
  ): CacheStatsWithBreakdown<SC>
  statsSync(
    this: Cache<SC, SyncStorageProvider>,
    options?: StatsQuery,
  ): CacheStats | CacheStatsWithBreakdown<SC>
  statsSync(
    this: Cache<SC, SyncStorageProvider>,
    options?: StatsQuery,
  ): CacheStats | CacheStatsWithBreakdown<SC> {
    this.#checkOpen('statsSync')
    const sync = this.#requireSync('statsSync')
    const breakdown = this.#breakdownOf('statsSync', options)
    return this.#snapshot(
      this.#guard('stats', () => sync.size()),
      breakdown,
    )
  }

  /**
   * Memoization. Returns a memoizer that works both ways:
   * `cache.cache({ ttlSeconds: 60 })(fn)` and `@cache.cache({ ttlSeconds: 60 }) method() {}`.
   * Over a synchronous storage a sync function stays sync; async functions return Promises, and
   * concurrent misses of one key run the function once.
   */
  cache<Args extends unknown[] = unknown[]>(
    options?: MemoizeOptions<ScopeName<SC>, Args>,
  ): Memoizer<St extends SyncStorageProvider ? true : false, Args> {
    this.#checkOpen('cache')
    return createMemoizer(this.#host, options as MemoizeOptions) as Memoizer<
      St extends SyncStorageProvider ? true : false,
      Args
    >
  }

  /** Releases the storage's timers and connections; later operations reject with `CacheClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#store.close()
  }

  /**
   * The two tiers in front of the storage; their events become this cache's. Another process's
   * invalidation also detaches this process's running computations of what it names (they answer the
   * callers already waiting, store nothing, and no later call joins them), before the event is
   * emitted: once a process has heard of an eviction, none of its calls gets a value computed before it.
   * A reset (messages may have been lost) detaches every running computation.
   */
  #tiers(local: LocalTierOptions): TieredStorage {
    return new TieredStorage(this.storage, local, {
      busMessage: (info) => {
        const invalidation = info.invalidation
        if (invalidation.kind === 'scope') this.#flights.invalidate(encodeScopePath(invalidation.path))
        else for (const ref of invalidation.refs) this.#flights.invalidate(encodeEntryRef(ref))
        this.emit('busMessage', info)
      },
      busReset: (info) => {
        this.#flights.invalidate('')
        this.emit('busReset', info)
      },
      circuitOpen: (info) => this.emit('circuitOpen', info),
      circuitClose: (info) => this.emit('circuitClose', info),
      error: (operation, error) => this.#report(operation, error),
    })
  }

  /** Whether `stats()` was asked for the breakdown; a `ConfigurationError` if it is not tracked. */
  #breakdownOf(operation: string, options: StatsQuery | undefined): boolean {
    if (options === undefined) return false
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(
        `cache.${operation}(options): options must be an object such as { breakdown: true }`,
      )
    }
    if (options.breakdown !== true) return false
    if (this.#tracker === undefined) {
      throw new ConfigurationError(
        `cache.${operation}({ breakdown: true }) needs per-scope tracking; create the cache with new Cache({ stats: { topN: 100 } })`,
      )
    }
    return true
  }

  #snapshot(totalKeys: number | undefined, breakdown: boolean): CacheStats | CacheStatsWithBreakdown<SC> {
    const stats = this.#stats.snapshot(this.storage.storageType, totalKeys)
    return breakdown ? { ...stats, ...(this.#tracker!.report() as StatsBreakdown<LevelName<SC>>) } : stats
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw new CacheClosedError(operation)
  }

  #requireSync(operation: string): SyncStorageOperations {
    if (this.#sync === undefined) {
      throw new ConfigurationError(
        `${operation}() needs a synchronous storage such as InMemory; the ${this.storage.storageType} storage is async: use await cache.${operation.replace('Sync', '')}()`,
      )
    }
    return this.#sync
  }

  #ref(operation: string, key: string, options: object | undefined, allowed: ReadonlySet<string>): EntryRef {
    this.#checkOpen(operation)
    if (typeof key !== 'string') {
      throw new InvalidArgumentError(
        `cache.${operation}(key): key must be a string, got ${key === null ? 'null' : typeof key}`,
      )
    }
    if (!isWellFormed(key)) {
      throw new InvalidArgumentError(
        `cache.${operation}(key): key must be well-formed Unicode; it contains a lone UTF-16 surrogate, which backends would store as U+FFFD`,
      )
    }
    return {
      scope: this.scopes.resolveOptions(options as Record<string, unknown> | undefined, allowed),
      key: directKey(key),
    }
  }

  #scopePath(operation: string, scope: string, params: unknown): ScopePath {
    this.#checkOpen(operation)
    if (typeof scope !== 'string')
      throw new InvalidArgumentError(`cache.${operation}(scope): scope must be a scope name`)
    if (params !== undefined && (params === null || typeof params !== 'object')) {
      throw new InvalidArgumentError(
        `cache.${operation}(scope, params): params must be an object such as { orgId: 'o1' }`,
      )
    }
    return this.scopes.resolveOptions({ ...(params as object | undefined), scope }, READ_OPTIONS)
  }

  #ttl(options: { ttlSeconds?: number } | undefined): number | undefined {
    const ttl = options?.ttlSeconds
    return ttl === undefined ? this.#defaultTtlMs : ttlToMs(ttl)
  }

  // Reads and writes: while nothing observes the cache (`#observed` false), the hot path is one flag
  // check away from the bare storage call. The `...Observed` twins time the call (`start` is a
  // performance.now() reading while an `operation` listener exists, -1 otherwise) and report it.

  #readSync(ref: EntryRef, failOpen: boolean): unknown {
    if (this.#observed) return this.#readSyncObserved(ref, failOpen)
    let value: unknown
    try {
      value = this.#sync!.get(ref)
    } catch (error) {
      value = this.#readFailed(error, failOpen)
    }
    return this.#afterRead(ref, value)
  }

  #readSyncObserved(ref: EntryRef, failOpen: boolean): unknown {
    let start = this.#timing ? performance.now() : -1
    let value: unknown
    try {
      value = this.#sync!.get(ref)
    } catch (error) {
      start = this.#failed('get', start)
      value = this.#readFailed(error, failOpen)
    }
    return this.#afterReadObserved(ref, value, start)
  }

  #read(ref: EntryRef, failOpen: boolean): Promise<unknown> {
    if (this.#observed) return this.#readObserved(ref, failOpen)
    // A `then` chain rather than an async function: one promise hop less on every read.
    let pending: Promise<unknown>
    try {
      pending = this.#store.get(ref)
    } catch (error) {
      // A provider that throws instead of rejecting is handled like one that rejects.
      pending = Promise.reject(error)
    }
    return pending.then(
      (value) => this.#afterRead(ref, value),
      (error: unknown) => this.#afterRead(ref, this.#readFailed(error, failOpen)),
    )
  }

  async #readObserved(ref: EntryRef, failOpen: boolean): Promise<unknown> {
    let start = this.#timing ? performance.now() : -1
    let value: unknown
    try {
      value = await this.#store.get(ref)
    } catch (error) {
      start = this.#failed('get', start)
      value = this.#readFailed(error, failOpen)
    }
    return this.#afterReadObserved(ref, value, start)
  }

  /** A failed read: thrown as a `StorageError`, or reported and read as a miss when failing open. */
  #readFailed(error: unknown, failOpen: boolean): Miss {
    if (!failOpen) throw this.#storageError('get', error)
    this.#report('get', error)
    return MISS
  }

  #afterRead(ref: EntryRef, value: unknown): unknown {
    if (value === MISS) this.#stats.misses++
    else this.#stats.hits++
    if (this.#rules.hasGetHooks) this.#apply(this.#rules.afterGet(ref, value !== MISS))
    return value
  }

  /** {@link Cache.#afterRead} that also reports the read, before rule hooks run. */
  #afterReadObserved(ref: EntryRef, value: unknown, start: number): unknown {
    if (value === MISS) this.#stats.misses++
    else this.#stats.hits++
    this.#observeRead(ref, value !== MISS, start)
    if (this.#rules.hasGetHooks) this.#apply(this.#rules.afterGet(ref, value !== MISS))
    return value
  }

  #writeSync(ref: EntryRef, value: unknown, ttlMs: number | undefined, failOpen: boolean): void {
    if (this.#observed) return this.#writeSyncObserved(ref, value, ttlMs, failOpen)
    try {
      this.#sync!.set(ref, value, ttlMs)
    } catch (error) {
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWrite(ref, ttlMs)
  }

  #writeSyncObserved(ref: EntryRef, value: unknown, ttlMs: number | undefined, failOpen: boolean): void {
    const start = this.#timing ? performance.now() : -1
    try {
      this.#sync!.set(ref, value, ttlMs)
    } catch (error) {
      this.#failed('set', start)
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWriteObserved(ref, ttlMs, start)
  }

  /** `fence`: a memoized result, written through `setFenced` (a refused write is neither counted nor an error). */
  async #write(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    failOpen: boolean,
    fence?: WriteFence,
  ): Promise<void> {
    if (this.#observed) return this.#writeObserved(ref, value, ttlMs, failOpen, fence)
    try {
      if (fence === undefined) await this.#store.set(ref, value, ttlMs)
      else if (!(await this.#store.setFenced!(ref, value, ttlMs, fence))) return
    } catch (error) {
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWrite(ref, ttlMs)
  }

  async #writeObserved(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    failOpen: boolean,
    fence?: WriteFence,
  ): Promise<void> {
    const start = this.#timing ? performance.now() : -1
    try {
      if (fence === undefined) await this.#store.set(ref, value, ttlMs)
      else if (!(await this.#store.setFenced!(ref, value, ttlMs, fence))) return
    } catch (error) {
      this.#failed('set', start)
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWriteObserved(ref, ttlMs, start)
  }

  /** A failed write: thrown as a `StorageError`, or reported (nothing stored) when failing open. */
  #writeFailed(error: unknown, failOpen: boolean): void {
    if (!failOpen) throw this.#storageError('set', error)
    this.#report('set', error)
  }

  #afterWrite(ref: EntryRef, ttlMs: number | undefined): void {
    this.#stats.sets++
    if (this.#rules.hasSetHooks) this.#apply(this.#rules.afterSet(ref, ttlMs))
  }

  /** {@link Cache.#afterWrite} that also reports the write, before rule hooks run. */
  #afterWriteObserved(ref: EntryRef, ttlMs: number | undefined, start: number): void {
    this.#stats.sets++
    this.#observeWrite(ref, ttlMs, start)
    if (this.#rules.hasSetHooks) this.#apply(this.#rules.afterSet(ref, ttlMs))
  }

  #afterDelete(ref: EntryRef, removed: boolean): boolean {
    if (removed) {
      this.#stats.evictions.explicit++
      if (this.#observed) this.#observeEviction('explicit', 1, ref.scope, ref.key)
      if (this.#rules.listensToEvictions) this.#rules.evicted({ ref, reason: 'explicit', count: 1 })
    }
    return removed
  }

  #afterScopeEviction(path: ScopePath, removed: number): number {
    this.#stats.evictions.scope += removed
    if (this.#observed && removed !== 0) this.#observeEviction('scope', removed, path, undefined)
    this.#flights.invalidate(encodeScopePath(path))
    if (this.#rules.listensToEvictions)
      this.#rules.evicted({ ref: undefined, reason: 'scope', count: removed, scope: path })
    if (path.length === 0) this.#rules.cleared()
    return removed
  }

  /** Applies rule effects. Over an async storage the deletions run in the background, errors reported. */
  #apply(effects: readonly RuleEffect[]): void {
    for (const effect of effects) {
      const done = (removed: boolean) => {
        if (!removed) return
        this.#stats.evictions.rule++
        if (this.#observed) this.#observeEviction('rule', 1, effect.ref.scope, effect.ref.key)
        if (this.#rules.listensToEvictions) this.#rules.evicted({ ref: effect.ref, reason: 'rule', count: 1 })
      }
      if (this.#sync) done(this.#guard('evict', () => this.#sync!.delete(effect.ref)))
      else this.#store.delete(effect.ref).then(done, (error: unknown) => this.#report('evict', error))
    }
  }

  #onEvicted(reason: AutomaticEvictionReason, count: number, ref: EntryRef | undefined): void {
    this.#stats.evictions[reason] += count
    if (this.#observed) this.#observeEviction(reason, count, ref?.scope, ref?.key)
    if (this.#rules.listensToEvictions) this.#rules.evicted({ ref, reason, count })
  }

  /** Runs a synchronous storage call, wrapping its errors; `timed`: emits an `operation` event. */
  #guard<T>(operation: string, run: () => T, timed = false): T {
    const start = timed && this.#timing ? performance.now() : -1
    try {
      const result = run()
      if (start >= 0) this.#timed(operation as TimedOperation, start, 'ok')
      return result
    } catch (error) {
      this.#failed(operation as TimedOperation, start)
      throw this.#storageError(operation, error)
    }
  }

  /** {@link Cache.#guard} for an asynchronous storage call. */
  async #call<T>(operation: string, run: () => Promise<T>, timed = false): Promise<T> {
    const start = timed && this.#timing ? performance.now() : -1
    try {
      const result = await run()
      if (start >= 0) this.#timed(operation as TimedOperation, start, 'ok')
      return result
    } catch (error) {
      this.#failed(operation as TimedOperation, start)
      throw this.#storageError(operation, error)
    }
  }

  /** Recomputes the flags that keep observation off the hot paths while nobody listens. */
  protected override listenersChanged(): void {
    const listened = (event: keyof CacheEvents) => this.listenerCount(event) !== 0
    this.#timing = listened('operation')
    this.#wantsRefs = this.#tracker !== undefined || listened('evict') || listened('expire')
    this.#observed = this.#wantsRefs || this.#timing || listened('hit') || listened('miss') || listened('set')
  }

  #observeRead(ref: EntryRef, hit: boolean, start: number): void {
    if (start >= 0) this.#timed('get', start, hit ? 'hit' : 'miss')
    this.#tracker?.record(hit ? HITS : MISSES, ref.scope, ref.key, 1)
    const event = hit ? 'hit' : 'miss'
    if (this.listenerCount(event) !== 0) this.emit(event, { scope: ref.scope, ...parseEntryKey(ref.key) })
  }

  #observeWrite(ref: EntryRef, ttlMs: number | undefined, start: number): void {
    if (start >= 0) this.#timed('set', start, 'ok')
    this.#tracker?.record(SETS, ref.scope, ref.key, 1)
    if (this.listenerCount('set') !== 0)
      this.emit('set', { scope: ref.scope, ...parseEntryKey(ref.key), ttlMs })
  }

  /** Counts and emits an eviction; `key` undefined: a whole scope, or an entry the storage did not name. */
  #observeEviction(
    reason: EvictEventReason | 'expired',
    count: number,
    scope: ScopePath | undefined,
    key: string | undefined,
  ): void {
    if (scope !== undefined) this.#tracker?.record(EVICTIONS, scope, key, count)
    const entry = key === undefined ? { key: undefined, namespace: undefined } : parseEntryKey(key)
    if (reason === 'expired') {
      if (this.listenerCount('expire') !== 0) this.emit('expire', { count, scope, ...entry })
    } else if (this.listenerCount('evict') !== 0) {
      this.emit('evict', { reason, count, scope, ...entry })
    }
  }

  #timed(operation: TimedOperation, start: number, outcome: OperationOutcome): void {
    this.emit('operation', { operation, outcome, durationMs: performance.now() - start })
  }

  /** Emits a failed operation when it was timed; returns -1 so that it is not emitted twice. */
  #failed(operation: TimedOperation, start: number): number {
    if (start >= 0) this.#timed(operation, start, 'error')
    return -1
  }

  #storageError(operation: string, error: unknown): CacheError {
    return error instanceof BaseError ? error : new StorageError(this.storage.storageType, operation, error)
  }

  #report(operation: string, error: unknown): void {
    this.emit('error', this.#storageError(operation, error), { operation })
  }

  #memoHost(): MemoHost {
    return {
      scopes: this.scopes,
      isSync: this.#sync !== undefined,
      flights: this.#flights,
      defaultTtlMs: this.#defaultTtlMs,
      readSync: (ref) => this.#readSync(ref, true),
      writeSync: (ref, value, ttlMs) => this.#writeSync(ref, value, ttlMs, true),
      read: (ref) => this.#read(ref, true),
      write: (ref, value, ttlMs) => this.#write(ref, value, ttlMs, true),
      fence:
        this.#sync === undefined && typeof this.#store.setFenced === 'function'
          ? this.#store.fence?.bind(this.#store)
          : undefined,
      writeFenced: (ref, value, ttlMs, fence) => this.#write(ref, value, ttlMs, true, fence),
      storageType: this.storage.storageType,
      locks: this.storage.locks,
      peek: async (ref) => {
        try {
          return await this.storage.get(ref)
        } catch (error) {
          this.#report('get', error)
          return MISS
        }
      },
      report: (operation, error) => this.#report(operation, error),
      claimNamespace: (namespace) => {
        if (this.#namespaces.has(namespace)) {
          throw new ConfigurationError(
            `the memoization namespace ${JSON.stringify(namespace)} is already used in this cache; pass a distinct namespace option (e.g. "${namespace}2" or "Module.${namespace}")`,
          )
        }
        this.#namespaces.add(namespace)
      },
      checkOpen: (operation) => this.#checkOpen(operation),
    }
  }
}
