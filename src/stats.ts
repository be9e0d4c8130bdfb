import type { ByteUsage, EvictionReason } from './storage/contract.js'

/**
 * Eviction counts per reason. `scope` includes `clear()`; `rule` counts custom rules' effects; `tag`
 * counts entries removed by `invalidateTags`.
 */
export type EvictionCounts = Record<EvictionReason, number>

/** What `cache.stats()` returns. Counters cover this `Cache` instance since it was created. */
export interface CacheStats {
  /** Reads that found a live entry (direct and memoized). */
  readonly hits: number
  /** Reads that found nothing, or only an expired entry. */
  readonly misses: number
  /** Writes (direct and memoized). */
  readonly sets: number
  /** All evictions, whatever the reason. */
  readonly evictions: number
  /** Evictions per reason. */
  readonly evictionsByReason: Readonly<EvictionCounts>
  /** `hits / (hits + misses)`, 0 before the first read. */
  readonly hitRate: number
  /** The storage's `storageType`, e.g. `'in_memory'`. */
  readonly storageType: string
  /**
   * Live entries in the storage now; `undefined` when the storage could not answer (it is down or timed
   * out): `stats()` still answers the counters, and the storage's failure is an `error` event.
   */
  readonly totalKeys: number | undefined
  /**
   * Bytes held under byte budgets (`maxBytes`): in total and for the tenants (top-level scope
   * instances) holding the most, largest first (the `stats.topN` option's count, default 10). Present
   * only when a bound has `maxBytes` and the storage answered.
   */
  readonly bytes?: ByteUsage
}

/** What `cache.counters()` returns: the stats without the storage's live entry count (no I/O needed). */
export type CacheCounters = Omit<CacheStats, 'totalKeys' | 'bytes'>

/** Mutable counters behind {@link CacheStats}. */
export class StatsCounter {
  hits = 0
  misses = 0
  sets = 0
  readonly evictions: EvictionCounts = {
    explicit: 0,
    expired: 0,
    lru: 0,
    maxItems: 0,
    scope: 0,
    rule: 0,
    tag: 0,
  }

  snapshot(storageType: string, totalKeys: number | undefined): CacheStats {
    const byReason = { ...this.evictions }
    const evictions = Object.values(byReason).reduce((a, b) => a + b, 0)
    const reads = this.hits + this.misses
    return {
      hits: this.hits,
      misses: this.misses,
      sets: this.sets,
      evictions,
      evictionsByReason: byReason,
      hitRate: reads === 0 ? 0 : this.hits / reads,
      storageType,
      totalKeys,
    }
  }
}
