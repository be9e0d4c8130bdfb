import type { SetManyEntry } from './bulk-args.js'
import { checkEntries, checkKeys } from './bulk-args.js'
import { ConfigurationError, InvalidArgumentError } from './errors.js'
import type { CacheEvents } from './events.js'
import { CacheEventEmitter } from './events.js'
import { directKey } from './keys/entry-key.js'
import type { Factory, FactoryContext, LoaderOptions } from './memoize/get-or-set.js'
import { checkFactory, GetOrSet, LOADER_OPTIONS } from './memoize/get-or-set.js'
import type { MethodHandle, MethodKey } from './memoize/handle.js'
import { handleFor } from './memoize/handle.js'
import type { MemoHost } from './memoize/host.js'
import type { Memoizer, MemoizeOptions } from './memoize/memoize.js'
import { createMemoizer } from './memoize/memoize.js'
import type { StatsBreakdown, StatsTrackingOptions } from './observability/scope-stats.js'
import { ScopeStatsTracker } from './observability/scope-stats.js'
import type { EventSink } from './operations/observer.js'
import { EventObserver, UNOBSERVED } from './operations/observer.js'
import { LATER, Operations } from './operations/pipeline.js'
import { registerOperations } from './operations/registry.js'
import type { ReadMetadata } from './operations/bulk.js'
import { BulkOperations } from './operations/bulk.js'
import type { CacheRule } from './rules/contract.js'
import { checkBoundOrders } from './rules/bounds.js'
import { RuleEngine } from './rules/engine.js'
import type { DefaultScopeConfig } from './scopes/scope-config.js'
import { defaultScopeConfig, isWellFormed, ScopeConfig } from './scopes/scope-config.js'
import type { ScopeLevelShape } from './scopes/scope-level.js'
import { currentAmbientScope, runInAmbientScope } from './scopes/ambient-scope.js'
import type {
  AmbientScope,
  AmbientScopeParams,
  CrossScopeOption,
  GlobalScope,
  ScopeName,
  ScopeParams,
  ScopeSelector,
} from './scopes/types.js'
import type { CacheCounters, CacheStats } from './stats.js'
import type {
  EntryRef,
  ScopePath,
  StorageProvider,
  SyncStorageOperations,
  SyncStorageProvider,
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
  /**
   * Tags of the entry, e.g. `['plan:pro']`, for {@link Cache.invalidateTags}: up to 64 distinct
   * non-empty strings of up to 512 characters, without control characters. Replaces the entry's
   * previous tags. Needs a storage with tags (InMemory, RedisStorage, MongoDBStorage).
   */
  readonly tags?: readonly string[]
}

/** Options of `cache.getOrSet`: the entry's scope, its TTL and tags, stampede protection, refresh ahead. */
export type GetOrSetOptions<SC> = ScopeSelector<SC> & LoaderOptions

/** A read's answer as the API gives it: `undefined` for a miss. */
/** A read's answer as the API gives it: `undefined` for a miss. */
const orUndefined = (value: unknown): unknown => (value === MISS ? undefined : value)

const READ_OPTIONS: ReadonlySet<string> = new Set(['scope'])
const WRITE_OPTIONS: ReadonlySet<string> = new Set(['scope', 'ttlSeconds', 'tags'])

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
  /** Every read, write and eviction runs through it (the memoizer's too). */
  readonly #ops: Operations
  /** Bulk operations and inspection, over the same pipeline. */
  readonly #bulk: BulkOperations
  readonly #host: MemoHost
  readonly #loader: GetOrSet
  readonly #tracker: ScopeStatsTracker | undefined
  readonly #defaultTtlMs: number | undefined
  /** This cache's events, as the pipeline emits them. */
  readonly #sink: EventSink = {
    emit: (event, ...args) => this.emit(event, ...args),
    listenerCount: (event) => this.listenerCount(event),
  }
  /** Whether evicted entries must be identified (evict/expire listeners or the tracker). */
  #wantsRefs = false

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
    const tiered = options.local === undefined ? undefined : this.#tiers(options.local)
    // Without a local tier, changes are still announced on the storage's bus (other processes' L1s).
    const store = tiered ?? publishing(this.storage, (error) => this.#ops.report('publish', error))
    const levels = scopes.names.filter((n) => n !== 'global')
    const rules = new RuleEngine(
      options.rules ?? [],
      (name) => name !== 'global' && scopes.has(name),
      levels,
      (error) => this.#ops.report('rule', error),
    )
    if (rules.bounds.length !== 0 && !this.storage.supportsBounds) {
      throw new ConfigurationError(
        `the ${this.storage.storageType} storage does not enforce bounds, so LRUEvict/MaxItemsEvict cannot be used with it`,
      )
    }
    checkBoundOrders(rules.bounds, this.storage)
    this.#defaultTtlMs =
      options.defaultTtlSeconds === undefined
        ? undefined
        : ttlToMs(options.defaultTtlSeconds, 'defaultTtlSeconds', 'configuration')
    this.#tracker = options.stats === undefined ? undefined : new ScopeStatsTracker(options.stats, levels)
    const ops = new Operations({
      store,
      local: tiered,
      rules,
      events: this.#sink,
      storageType: this.storage.storageType,
    })
    this.#ops = ops
    registerOperations(this, ops)
    this.#bulk = new BulkOperations(ops)
    this.listenersChanged()
    const wantsRefs = () => this.#wantsRefs
    store.attach({
      bounds: rules.bounds,
      sweepIntervalMs: rules.sweepIntervalMs,
      get wantsEvictedRefs() {
        return rules.listensToEvictions || wantsRefs()
      },
      onEvicted: (reason, count, ref) => ops.onEvicted(reason, count, ref),
    })
    this.#host = {
      ops,
      scopes,
      defaultTtlMs: this.#defaultTtlMs,
      locks: this.storage.locks,
      namespaces: new Set(),
    }
    this.#loader = new GetOrSet(this.#host)
  }

  /** The value stored under `key` in the given scope, or `undefined` on a miss. */
  get<V = unknown>(key: string, options?: ScopeOptions<SC>): Promise<V | undefined> {
    // Not `async`: a hit answered without I/O (sync storage, local tier) costs one resolved promise.
    // Every error still rejects, as from an async function.
    try {
      const ref = this.#ref('get', key, options, READ_OPTIONS)
      const value = this.#ops.readNow(ref, false)
      if (value === LATER) return this.#ops.fetch(ref, false).then(orUndefined) as Promise<V | undefined>
      return Promise.resolve(value === MISS ? undefined : (value as V))
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  /** Stores `value` under `key` in the given scope, replacing any previous value. */
  async set(key: string, value: unknown, options?: SetOptions<SC>): Promise<void> {
    const ref = this.#ref('set', key, options, WRITE_OPTIONS)
    const ttlMs = this.#ttl(options)
    const tags = options?.tags === undefined ? undefined : this.#ops.tagged('cache.set', options.tags)
    if (this.#ops.sync !== undefined) this.#ops.writeSync(ref, value, ttlMs, false, tags)
    else await this.#ops.write(ref, value, ttlMs, false, undefined, tags)
  }

  /**
   * Removes every entry carrying at least one of `tags`: of this whole cache, or only of the scope
   * `selector` names and its descendants (`{ scope: 'organization', orgId: 'o1' }`); resolves how many
   * entries it removed (counted as `'tag'` evictions). Costs O(entries carrying the tags); reads of
   * tagged entries cost nothing extra. Local tiers of every process drop their copies of the scope.
   */
  async invalidateTags(tags: readonly string[], selector?: ScopeOptions<SC>): Promise<number> {
    return this.#ops.invalidateTags(tags, this.#selected('invalidateTags', selector))
  }

  /** Synchronous {@link Cache.invalidateTags}. */
  invalidateTagsSync(
    this: Cache<SC, SyncStorageProvider>,
    tags: readonly string[],
    selector?: ScopeOptions<SC>,
  ): number {
    const path = this.#selected('invalidateTagsSync', selector)
    this.#requireSync('invalidateTagsSync')
    return this.#ops.invalidateTags(tags, path) as number
  }

  /** The scope path of a selector such as `{ scope: 'organization', orgId: 'o1' }` (absent: global). */
  #selected(operation: string, selector: object | undefined): ScopePath {
    this.#ops.checkOpen(operation)
    return this.scopes.resolveOptions(selector as Record<string, unknown> | undefined, READ_OPTIONS)
  }

  /** Removes one entry; resolves whether there was a live one. */
  async evict(key: string, options?: ScopeOptions<SC>): Promise<boolean> {
    return this.#ops.delete(this.#ref('evict', key, options, READ_OPTIONS))
  }

  /**
   * Removes every entry of one scope instance and of its descendants (`'global'`: every entry of this
   * cache); resolves how many entries were removed. Costs O(entries in that scope) on every storage.
   */
  async evictByScope<N extends ScopeName<SC>>(
    scope: N,
    params?: ScopeParams<SC, N> & CrossScopeOption,
  ): Promise<number> {
    return this.#ops.evictScope(this.#scopePath('evictByScope', scope, params))
  }

  /** Removes every entry of this cache (only this cache's: other data in a shared backend is kept). */
  async clear(): Promise<number> {
    return this.evictByScope('global' as ScopeName<SC>)
  }

  /**
   * Runs `fn` (sync or async) with `params` as the ambient scope and returns what it returns. Inside
   * it (across awaits, timers, event emitters, streams), a call that names a level but passes no
   * parameters (`get(key, { scope: 'user' })`, memoized functions, `evictByScope('organization')`)
   * takes them from it; an explicit parameter that differs from it is a `ScopeError` unless
   * `{ crossScope: true }`. Nested calls add deeper levels and cannot change an outer parameter. The
   * ambient scope is one per async context, shared by every cache of the process: each cache reads
   * the parameters it knows by name.
   */
  runInScope<R>(params: AmbientScopeParams<SC>, fn: () => R): R {
    return runInAmbientScope(this.scopes, params, fn)
  }

  /** The ambient scope parameters (ids as strings), or `undefined` outside every `runInScope`. */
  currentScope(): AmbientScope<SC> | undefined {
    return currentAmbientScope() as AmbientScope<SC> | undefined
  }

  /**
   * The values of `keys` in the given scope, in the same order (`undefined` for each miss; keys may
   * repeat). One round trip per tenant on Redis, one query on MongoDB; counts one hit or miss per key.
   * Every key is checked first (at most `MAX_BULK_KEYS`): one bad key rejects the whole call.
   */
  async getMany<V = unknown>(
    keys: readonly string[],
    options?: ScopeOptions<SC>,
  ): Promise<(V | undefined)[]> {
    const values = await this.#bulk.readMany(this.#refs('getMany', keys, options))
    return values.map(orUndefined) as (V | undefined)[]
  }

  /**
   * Stores every entry (`{ key, value, ttlSeconds? }`) in the scope of `options`; `options.ttlSeconds`
   * is the TTL of entries without their own. Every entry is checked before anything is written; a later
   * entry of a key wins. Bounds hold when it resolves.
   */
  async setMany(entries: readonly SetManyEntry[], options?: SetOptions<SC>): Promise<void> {
    await this.#bulk.writeMany(this.#writes('setMany', entries, options))
  }

  /** Removes the entries of `keys` (repeated keys count once); resolves how many existed. */
  async evictMany(keys: readonly string[], options?: ScopeOptions<SC>): Promise<number> {
    return this.#bulk.deleteMany(this.#refs('evictMany', keys, options, true))
  }

  /** Whether `key` holds a live entry; not counted as a hit or miss. */
  async has(key: string, options?: ScopeOptions<SC>): Promise<boolean> {
    return this.#bulk.has(this.#ref('has', key, options, READ_OPTIONS))
  }

  /**
   * When the entry of `key` expires, in epoch milliseconds (`null`: it never expires; `undefined`: no
   * such entry). Needs a storage that reports expiries (every built-in one does).
   */
  async expiresAt(key: string, options?: ScopeOptions<SC>): Promise<number | null | undefined> {
    return this.#bulk.expiresAt(this.#ref('expiresAt', key, options, READ_OPTIONS), 'expiresAt')
  }

  /** {@link Cache.get} answering how it went too: `{ value, status, tier, expiresAt }` (see `ReadMetadata`). */
  async getWithMetadata<V = unknown>(key: string, options?: ScopeOptions<SC>): Promise<ReadMetadata<V>> {
    const ref = this.#ref('getWithMetadata', key, options, READ_OPTIONS)
    return (await this.#bulk.readWithMetadata(ref)) as ReadMetadata<V>
  }

  /** Synchronous {@link Cache.getMany}. */
  getManySync<V = unknown>(
    this: Cache<SC, SyncStorageProvider>,
    keys: readonly string[],
    options?: ScopeOptions<SC>,
  ): (V | undefined)[] {
    const refs = this.#refs('getManySync', keys, options)
    this.#requireSync('getManySync')
    return (this.#bulk.readMany(refs) as unknown[]).map(orUndefined) as (V | undefined)[]
  }

  /** Synchronous {@link Cache.setMany}. */
  setManySync(
    this: Cache<SC, SyncStorageProvider>,
    entries: readonly SetManyEntry[],
    options?: SetOptions<SC>,
  ): void {
    const writes = this.#writes('setManySync', entries, options)
    this.#requireSync('setManySync')
    this.#bulk.writeMany(writes)
  }

  /** Synchronous {@link Cache.evictMany}. */
  evictManySync(
    this: Cache<SC, SyncStorageProvider>,
    keys: readonly string[],
    options?: ScopeOptions<SC>,
  ): number {
    const refs = this.#refs('evictManySync', keys, options, true)
    this.#requireSync('evictManySync')
    return this.#bulk.deleteMany(refs) as number
  }

  /** Synchronous {@link Cache.has}. */
  hasSync(this: Cache<SC, SyncStorageProvider>, key: string, options?: ScopeOptions<SC>): boolean {
    const ref = this.#ref('hasSync', key, options, READ_OPTIONS)
    this.#requireSync('hasSync')
    return this.#bulk.has(ref) as boolean
  }

  /** Synchronous {@link Cache.expiresAt}. */
  expiresAtSync(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    options?: ScopeOptions<SC>,
  ): number | null | undefined {
    const ref = this.#ref('expiresAtSync', key, options, READ_OPTIONS)
    this.#requireSync('expiresAtSync')
    return this.#bulk.expiresAt(ref, 'expiresAtSync') as number | null | undefined
  }

  /** Synchronous {@link Cache.getWithMetadata}. */
  getWithMetadataSync<V = unknown>(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    options?: ScopeOptions<SC>,
  ): ReadMetadata<V> {
    const ref = this.#ref('getWithMetadataSync', key, options, READ_OPTIONS)
    this.#requireSync('getWithMetadataSync')
    return this.#bulk.readWithMetadata(ref) as ReadMetadata<V>
  }

  /** The refs of a bulk call's keys, all checked first (`unique`: repeated keys once). */
  #refs(operation: string, keys: readonly string[], options: object | undefined, unique = false): EntryRef[] {
    this.#ops.checkOpen(operation)
    const list = checkKeys(operation, keys)
    const scope = this.scopes.resolveOptions(options as Record<string, unknown> | undefined, READ_OPTIONS)
    return (unique ? [...new Set(list)] : list).map((key) => ({ scope, key: directKey(key) }))
  }

  /** The writes of a `setMany` call, all checked first. */
  #writes(operation: string, entries: readonly SetManyEntry[], options: SetOptions<SC> | undefined) {
    this.#ops.checkOpen(operation)
    if ((options as { tags?: unknown } | undefined)?.tags !== undefined) {
      throw new InvalidArgumentError(
        `cache.${operation}(entries, options): tags are not taken by bulk writes yet; write tagged entries with cache.set(key, value, { tags })`,
      )
    }
    const scope = this.scopes.resolveOptions(options as Record<string, unknown> | undefined, WRITE_OPTIONS)
    return checkEntries(operation, entries, this.#ttl(options)).map(({ key, value, ttlMs }) => ({
      ref: { scope, key: directKey(key) },
      value,
      ttlMs,
    }))
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
    this.#ops.checkOpen('stats')
    const breakdown = this.#breakdownOf('stats', options)
    let totalKeys: number | undefined
    try {
      totalKeys = await this.#ops.size()
    } catch (error) {
      this.#ops.report('stats', error)
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
    const value = this.#ops.readSync(ref, false)
    return value === MISS ? undefined : (value as V)
  }

  /** Synchronous {@link Cache.set}. */
  setSync(this: Cache<SC, SyncStorageProvider>, key: string, value: unknown, options?: SetOptions<SC>): void {
    const ref = this.#ref('setSync', key, options, WRITE_OPTIONS)
    this.#requireSync('setSync')
    const tags = options?.tags === undefined ? undefined : this.#ops.tagged('cache.setSync', options.tags)
    this.#ops.writeSync(ref, value, this.#ttl(options), false, tags)
  }

  /** Synchronous {@link Cache.evict}. */
  evictSync(this: Cache<SC, SyncStorageProvider>, key: string, options?: ScopeOptions<SC>): boolean {
    const ref = this.#ref('evictSync', key, options, READ_OPTIONS)
    this.#requireSync('evictSync')
    return this.#ops.delete(ref) as boolean
  }

  /** Synchronous {@link Cache.evictByScope}. */
  evictByScopeSync<N extends ScopeName<SC>>(
    this: Cache<SC, SyncStorageProvider>,
    scope: N,
    params?: ScopeParams<SC, N> & CrossScopeOption,
  ): number {
    const path = this.#scopePath('evictByScopeSync', scope, params)
    this.#requireSync('evictByScopeSync')
    return this.#ops.evictScope(path) as number
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
    this.#ops.checkOpen('statsSync')
    this.#requireSync('statsSync')
    const breakdown = this.#breakdownOf('statsSync', options)
    return this.#snapshot(this.#ops.size() as number, breakdown)
  }

  /**
   * Memoization. Returns a memoizer that works both ways:
   * `cache.cache({ ttlSeconds: 60 })(fn)` and `@cache.cache({ ttlSeconds: 60 }) method() {}`.
   * Over a synchronous storage a sync function stays sync; async functions return Promises, and
   * concurrent misses of one key run the function once.
   */
  cache<Args extends unknown[] = unknown[], Result = unknown>(
    options?: MemoizeOptions<ScopeName<SC>, Args, Result>,
  ): Memoizer<St extends SyncStorageProvider ? true : false, Args> {
    this.#ops.checkOpen('cache')
    return createMemoizer(this.#host, options as MemoizeOptions) as Memoizer<
      St extends SyncStorageProvider ? true : false,
      Args
    >
  }

  /**
   * The value stored under `key` in the scope of `options`, or else `factory(ctx)`'s result, stored
   * with `options.ttlSeconds` (or what the factory chose through `ctx`) and answered. Concurrent calls
   * for one entry share one factory run (across processes with `lock`); a rejection is passed on to
   * them and nothing is stored; an eviction while the factory runs keeps its result from being stored.
   * Meant for inline use (a request handler): nothing is registered per call. Storage errors are
   * `error` events (a read as a miss, a write as not stored), as for memoized functions.
   */
  getOrSet<V>(key: string, factory: Factory<V>, options?: GetOrSetOptions<SC>): Promise<V> {
    try {
      const ref = this.#ref('getOrSet', key, options, LOADER_OPTIONS)
      checkFactory('getOrSet', factory)
      return this.#loader.run(ref, factory, options)
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  /** Synchronous {@link Cache.getOrSet}: a synchronous storage and a factory that answers synchronously. */
  getOrSetSync<V>(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    factory: (ctx: FactoryContext) => V,
    options?: GetOrSetOptions<SC>,
  ): V {
    const ref = this.#ref('getOrSetSync', key, options, LOADER_OPTIONS)
    this.#requireSync('getOrSetSync')
    checkFactory('getOrSetSync', factory)
    return this.#loader.runSync(ref, factory, options)
  }

  /**
   * The handle (`evict`, `refresh`, `peek`, `withMetadata`) of a method decorated with `@cache.cache()`,
   * for one instance: `cache.memoized(repo, 'findUser').evict('u1')`. (A memoized function has these
   * methods itself: `findUser.evict('u1')`.)
   */
  memoized<T extends object, K extends MethodKey<T>>(
    instance: T,
    method: K,
  ): MethodHandle<T[K], St extends SyncStorageProvider ? true : false> {
    return handleFor(instance, method) as MethodHandle<T[K], St extends SyncStorageProvider ? true : false>
  }

  /** Releases the storage's timers and connections; later operations reject with `CacheClosedError`. */
  async close(): Promise<void> {
    await this.#ops.close()
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
        const flights = this.#ops.flights
        if (invalidation.kind === 'scope') flights.invalidate(encodeScopePath(invalidation.path))
        else for (const ref of invalidation.refs) flights.invalidate(encodeEntryRef(ref))
        this.emit('busMessage', info)
      },
      busReset: (info) => {
        this.#ops.flights.invalidate('')
        this.emit('busReset', info)
      },
      circuitOpen: (info) => this.emit('circuitOpen', info),
      circuitClose: (info) => this.emit('circuitClose', info),
      error: (operation, error) => this.#ops.report(operation, error),
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
    const stats = this.#ops.stats.snapshot(this.storage.storageType, totalKeys)
    return breakdown ? { ...stats, ...(this.#tracker!.report() as StatsBreakdown<LevelName<SC>>) } : stats
  }

  #requireSync(operation: string): SyncStorageOperations {
    const sync = this.#ops.sync
    if (sync === undefined) {
      throw new ConfigurationError(
        `${operation}() needs a synchronous storage such as InMemory; the ${this.storage.storageType} storage is async: use await cache.${operation.replace('Sync', '')}()`,
      )
    }
    return sync
  }

  #ref(operation: string, key: string, options: object | undefined, allowed: ReadonlySet<string>): EntryRef {
    this.#ops.checkOpen(operation)
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
    this.#ops.checkOpen(operation)
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

  /**
   * Swaps the pipeline's observer: the no-op one while nothing observes operations (no listener of an
   * entry or operation event, no tracker), so that the hot paths do no observation work.
   */
  protected override listenersChanged(): void {
    const listened = (event: keyof CacheEvents) => this.listenerCount(event) !== 0
    const timing = listened('operation')
    this.#wantsRefs = this.#tracker !== undefined || listened('evict') || listened('expire')
    const observed = this.#wantsRefs || timing || listened('hit') || listened('miss') || listened('set')
    this.#ops.observer = observed ? new EventObserver(this.#sink, this.#tracker, timing) : UNOBSERVED
  }
}
