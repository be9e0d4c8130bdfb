import type { SetManyEntry } from './bulk-args.js'
import { CacheEventEmitter } from './events.js'
import type { FacadeArguments } from './facade/arguments.js'
import { READ_OPTIONS, WRITE_OPTIONS } from './facade/arguments.js'
import type {
  CacheOptions,
  CacheStatsWithBreakdown,
  GetOrSetOptions,
  LevelName,
  ScopeOptions,
  SetOptions,
  StatsQuery,
} from './facade/options.js'
import type { Observation } from './facade/wiring.js'
import { wireCache } from './facade/wiring.js'
import type { Factory, FactoryContext, GetOrSet } from './memoize/get-or-set.js'
import { checkFactory, LOADER_OPTIONS } from './memoize/get-or-set.js'
import type { MethodHandle, MethodKey } from './memoize/handle.js'
import { handleFor } from './memoize/handle.js'
import type { MemoHost } from './memoize/host.js'
import type { Memoizer, MemoizeOptions } from './memoize/memoize.js'
import { createMemoizer } from './memoize/memoize.js'
import type { StatsBreakdown, ScopeStatsTracker } from './observability/scope-stats.js'
import type { BulkOperations, ReadMetadata } from './operations/bulk.js'
import type { EventSink } from './operations/observer.js'
import type { Operations } from './operations/pipeline.js'
import { LATER } from './operations/pipeline.js'
import type { DefaultScopeConfig, ScopeConfig } from './scopes/scope-config.js'
import type { ScopeLevelShape } from './scopes/scope-level.js'
import { currentAmbientScope, runInAmbientScope } from './scopes/ambient-scope.js'
import type {
  AmbientScope,
  AmbientScopeParams,
  CrossScopeOption,
  ScopeName,
  ScopeParams,
} from './scopes/types.js'
import type { CacheCounters, CacheStats } from './stats.js'
import type { ByteUsage, StorageProvider, SyncStorageProvider } from './storage/contract.js'
import { MISS } from './storage/contract.js'
import type { InMemory } from './storage/memory/in-memory.js'

// The option types live in facade/options.ts; integrations import them from here.
export type {
  CacheOptions,
  CacheStatsWithBreakdown,
  GetOrSetOptions,
  LevelName,
  ScopeOptions,
  SetOptions,
  StatsQuery,
} from './facade/options.js'

/** A read's answer as the API gives it: `undefined` for a miss. */
const orUndefined = (value: unknown): unknown => (value === MISS ? undefined : value)
/** Tenants listed in `stats().bytes.top` when the cache has no `stats` option (its `topN` otherwise). */
const DEFAULT_BYTES_TOP_N = 10

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
  readonly #args: FacadeArguments
  readonly #tracker: ScopeStatsTracker | undefined
  readonly #observation: Observation

  constructor(options: CacheOptions<SC, St> = {}) {
    super()
    // This cache's events, as the pipeline emits them.
    const sink: EventSink = {
      emit: (event, ...args) => this.emit(event, ...args),
      listenerCount: (event) => this.listenerCount(event),
    }
    const parts = wireCache(this, options, sink)
    this.scopes = parts.scopes
    this.storage = parts.storage
    this.#ops = parts.ops
    this.#bulk = parts.bulk
    this.#host = parts.host
    this.#loader = parts.loader
    this.#args = parts.args
    this.#tracker = parts.tracker
    this.#observation = parts.observation
  }

  /** The value stored under `key` in the given scope, or `undefined` on a miss. */
  get<V = unknown>(key: string, options?: ScopeOptions<SC>): Promise<V | undefined> {
    // Not `async`: a hit answered without I/O (sync storage, local tier) costs one resolved promise.
    // Every error still rejects, as from an async function.
    try {
      const ref = this.#args.ref('get', key, options, READ_OPTIONS)
      const value = this.#ops.readNow(ref, false)
      if (value === LATER) return this.#ops.fetch(ref, false).then(orUndefined) as Promise<V | undefined>
      return Promise.resolve(value === MISS ? undefined : (value as V))
    } catch (error) {
      return Promise.reject(error as Error)
    }
  }

  /** Stores `value` under `key` in the given scope, replacing any previous value. */
  async set(key: string, value: unknown, options?: SetOptions<SC>): Promise<void> {
    const ref = this.#args.ref('set', key, options, WRITE_OPTIONS)
    const ttlMs = this.#args.ttl(options)
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
    return this.#ops.invalidateTags(tags, this.#args.selected('invalidateTags', selector))
  }

  /** Synchronous {@link Cache.invalidateTags}. */
  invalidateTagsSync(
    this: Cache<SC, SyncStorageProvider>,
    tags: readonly string[],
    selector?: ScopeOptions<SC>,
  ): number {
    const path = this.#args.selected('invalidateTagsSync', selector)
    this.#args.requireSync('invalidateTagsSync')
    return this.#ops.invalidateTags(tags, path) as number
  }

  /** Removes one entry; resolves whether there was a live one. */
  async evict(key: string, options?: ScopeOptions<SC>): Promise<boolean> {
    return this.#ops.delete(this.#args.ref('evict', key, options, READ_OPTIONS))
  }

  /**
   * Removes every entry of one scope instance and of its descendants (`'global'`: every entry of this
   * cache); resolves how many entries were removed. Costs O(entries in that scope) on every storage.
   */
  async evictByScope<N extends ScopeName<SC>>(
    scope: N,
    params?: ScopeParams<SC, N> & CrossScopeOption,
  ): Promise<number> {
    return this.#ops.evictScope(this.#args.scopePath('evictByScope', scope, params))
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
    const values = await this.#bulk.readMany(this.#args.refs('getMany', keys, options))
    return values.map(orUndefined) as (V | undefined)[]
  }

  /**
   * Stores every entry (`{ key, value, ttlSeconds? }`) in the scope of `options`; `options.ttlSeconds`
   * is the TTL of entries without their own. Every entry is checked before anything is written; a later
   * entry of a key wins. Bounds hold when it resolves.
   */
  async setMany(entries: readonly SetManyEntry[], options?: SetOptions<SC>): Promise<void> {
    await this.#bulk.writeMany(this.#args.writes('setMany', entries, options))
  }

  /** Removes the entries of `keys` (repeated keys count once); resolves how many existed. */
  async evictMany(keys: readonly string[], options?: ScopeOptions<SC>): Promise<number> {
    return this.#bulk.deleteMany(this.#args.refs('evictMany', keys, options, true))
  }

  /** Whether `key` holds a live entry; not counted as a hit or miss. */
  async has(key: string, options?: ScopeOptions<SC>): Promise<boolean> {
    return this.#bulk.has(this.#args.ref('has', key, options, READ_OPTIONS))
  }

  /**
   * When the entry of `key` expires, in epoch milliseconds (`null`: it never expires; `undefined`: no
   * such entry). Needs a storage that reports expiries (every built-in one does).
   */
  async expiresAt(key: string, options?: ScopeOptions<SC>): Promise<number | null | undefined> {
    return this.#bulk.expiresAt(this.#args.ref('expiresAt', key, options, READ_OPTIONS), 'expiresAt')
  }

  /** {@link Cache.get} answering how it went too: `{ value, status, tier, expiresAt }` (see `ReadMetadata`). */
  async getWithMetadata<V = unknown>(key: string, options?: ScopeOptions<SC>): Promise<ReadMetadata<V>> {
    const ref = this.#args.ref('getWithMetadata', key, options, READ_OPTIONS)
    return (await this.#bulk.readWithMetadata(ref)) as ReadMetadata<V>
  }

  /** Synchronous {@link Cache.getMany}. */
  getManySync<V = unknown>(
    this: Cache<SC, SyncStorageProvider>,
    keys: readonly string[],
    options?: ScopeOptions<SC>,
  ): (V | undefined)[] {
    const refs = this.#args.refs('getManySync', keys, options)
    this.#args.requireSync('getManySync')
    return (this.#bulk.readMany(refs) as unknown[]).map(orUndefined) as (V | undefined)[]
  }

  /** Synchronous {@link Cache.setMany}. */
  setManySync(
    this: Cache<SC, SyncStorageProvider>,
    entries: readonly SetManyEntry[],
    options?: SetOptions<SC>,
  ): void {
    const writes = this.#args.writes('setManySync', entries, options)
    this.#args.requireSync('setManySync')
    this.#bulk.writeMany(writes)
  }

  /** Synchronous {@link Cache.evictMany}. */
  evictManySync(
    this: Cache<SC, SyncStorageProvider>,
    keys: readonly string[],
    options?: ScopeOptions<SC>,
  ): number {
    const refs = this.#args.refs('evictManySync', keys, options, true)
    this.#args.requireSync('evictManySync')
    return this.#bulk.deleteMany(refs) as number
  }

  /** Synchronous {@link Cache.has}. */
  hasSync(this: Cache<SC, SyncStorageProvider>, key: string, options?: ScopeOptions<SC>): boolean {
    const ref = this.#args.ref('hasSync', key, options, READ_OPTIONS)
    this.#args.requireSync('hasSync')
    return this.#bulk.has(ref) as boolean
  }

  /** Synchronous {@link Cache.expiresAt}. */
  expiresAtSync(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    options?: ScopeOptions<SC>,
  ): number | null | undefined {
    const ref = this.#args.ref('expiresAtSync', key, options, READ_OPTIONS)
    this.#args.requireSync('expiresAtSync')
    return this.#bulk.expiresAt(ref, 'expiresAtSync') as number | null | undefined
  }

  /** Synchronous {@link Cache.getWithMetadata}. */
  getWithMetadataSync<V = unknown>(
    this: Cache<SC, SyncStorageProvider>,
    key: string,
    options?: ScopeOptions<SC>,
  ): ReadMetadata<V> {
    const ref = this.#args.ref('getWithMetadataSync', key, options, READ_OPTIONS)
    this.#args.requireSync('getWithMetadataSync')
    return this.#bulk.readWithMetadata(ref) as ReadMetadata<V>
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
    const breakdown = this.#args.breakdownOf('stats', options)
    let totalKeys: number | undefined
    try {
      totalKeys = await this.#ops.size()
    } catch (error) {
      this.#ops.report('stats', error)
    }
    let bytes: ByteUsage | undefined
    try {
      bytes = await this.storage.byteUsage?.(this.#tracker?.topN ?? DEFAULT_BYTES_TOP_N)
    } catch (error) {
      this.#ops.report('stats', error)
    }
    return this.#snapshot(totalKeys, breakdown, bytes)
  }

  /**
   * The counters of {@link Cache.stats} without `totalKeys`: synchronous on every storage, no I/O, so it
   * answers while the storage is down and after `close()` (metric exporters read it at each scrape).
   */
  counters(): CacheCounters
  counters(options: StatsQuery & { readonly breakdown: true }): CacheCounters & StatsBreakdown<LevelName<SC>>
  counters(options?: StatsQuery): CacheCounters | (CacheCounters & StatsBreakdown<LevelName<SC>>)
  counters(options?: StatsQuery): CacheCounters | (CacheCounters & StatsBreakdown<LevelName<SC>>) {
    const { totalKeys: _, ...counters } = this.#snapshot(0, this.#args.breakdownOf('counters', options))
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
    const ref = this.#args.ref('getSync', key, options, READ_OPTIONS)
    this.#args.requireSync('getSync')
    const value = this.#ops.readSync(ref, false)
    return value === MISS ? undefined : (value as V)
  }

  /** Synchronous {@link Cache.set}. */
  setSync(this: Cache<SC, SyncStorageProvider>, key: string, value: unknown, options?: SetOptions<SC>): void {
    const ref = this.#args.ref('setSync', key, options, WRITE_OPTIONS)
    this.#args.requireSync('setSync')
    const tags = options?.tags === undefined ? undefined : this.#ops.tagged('cache.setSync', options.tags)
    this.#ops.writeSync(ref, value, this.#args.ttl(options), false, tags)
  }

  /** Synchronous {@link Cache.evict}. */
  evictSync(this: Cache<SC, SyncStorageProvider>, key: string, options?: ScopeOptions<SC>): boolean {
    const ref = this.#args.ref('evictSync', key, options, READ_OPTIONS)
    this.#args.requireSync('evictSync')
    return this.#ops.delete(ref) as boolean
  }

  /** Synchronous {@link Cache.evictByScope}. */
  evictByScopeSync<N extends ScopeName<SC>>(
    this: Cache<SC, SyncStorageProvider>,
    scope: N,
    params?: ScopeParams<SC, N> & CrossScopeOption,
  ): number {
    const path = this.#args.scopePath('evictByScopeSync', scope, params)
    this.#args.requireSync('evictByScopeSync')
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
    this.#args.requireSync('statsSync')
    const breakdown = this.#args.breakdownOf('statsSync', options)
    const bytes = this.storage.sync.byteUsage?.(this.#tracker?.topN ?? DEFAULT_BYTES_TOP_N)
    return this.#snapshot(this.#ops.size() as number, breakdown, bytes)
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
      const ref = this.#args.ref('getOrSet', key, options, LOADER_OPTIONS)
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
    const ref = this.#args.ref('getOrSetSync', key, options, LOADER_OPTIONS)
    this.#args.requireSync('getOrSetSync')
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

  #snapshot(
    totalKeys: number | undefined,
    breakdown: boolean,
    bytes?: ByteUsage,
  ): CacheStats | CacheStatsWithBreakdown<SC> {
    const counted = this.#ops.stats.snapshot(this.storage.storageType, totalKeys)
    const stats = bytes === undefined ? counted : { ...counted, bytes }
    return breakdown ? { ...stats, ...(this.#tracker!.report() as StatsBreakdown<LevelName<SC>>) } : stats
  }

  /** Keeps the pipeline's observer in step with the listeners (no observation work while nobody listens). */
  protected override listenersChanged(): void {
    this.#observation.update()
  }
}
