/**
 * The option types of the `Cache` facade (`new Cache(options)`, reads, writes, `getOrSet`, `stats`).
 * `src/index.ts` exports them; `src/cache.ts` re-exports them for the integrations that import them from
 * there.
 */
import type { LoaderOptions } from '../memoize/get-or-set.js'
import type { StatsBreakdown, StatsTrackingOptions } from '../observability/scope-stats.js'
import type { CacheRule } from '../rules/contract.js'
import type { ScopeConfig } from '../scopes/scope-config.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { GlobalScope, ScopeName, ScopeSelector } from '../scopes/types.js'
import type { CacheStats } from '../stats.js'
import type { StorageProvider } from '../storage/contract.js'
import type { LocalTierOptions } from '../tiers/tiered-storage.js'

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
   * Multiplies the TTL by a random factor in `[1 - ttlJitter, 1]` (0 <= ttlJitter < 1; each entry of a
   * `setMany` its own), so entries written together do not expire together; never lengthens it.
   */
  readonly ttlJitter?: number
  /**
   * Tags of the entry, e.g. `['plan:pro']`, for {@link Cache.invalidateTags}: up to 64 distinct
   * non-empty strings of up to 512 characters, without control characters. Replaces the entry's
   * previous tags. Needs a storage with tags (InMemory, RedisStorage, MongoDBStorage).
   */
  readonly tags?: readonly string[]
}

/** Options of `cache.getOrSet`: the entry's scope, its TTL and tags, stampede protection, refresh ahead. */
export type GetOrSetOptions<SC> = ScopeSelector<SC> & LoaderOptions
