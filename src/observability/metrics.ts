/**
 * What the metric exporters (`cacheado/prometheus`, `cacheado/otel`) share: the cache surface they read,
 * the metric layout, and one stats snapshot per collection.
 *
 * Counters are read from `cache.stats()` at collection time (pull), never incremented per operation:
 * the label values of the breakdown metrics come from the bounded per-scope tracker, so the number of
 * series stays bounded by `topN` even when tenants churn through the top N. Latency comes from the
 * cache's `operation` events, labelled only by operation and outcome.
 */
import type { OperationEvent } from '../events.js'
import type { CacheCounters, CacheStats } from '../stats.js'
import type { EvictionReason } from '../storage/contract.js'
import type { Breakdown, StatsBreakdown } from './scope-stats.js'
import { OTHER_LABEL } from './scope-stats.js'
import type { BucketCounts } from './top-k.js'

/** The part of a `Cache` the exporters use; every `Cache` has it. */
export interface ObservedCache {
  /** Whether the cache was created with the `stats` option (then breakdown metrics are exported). */
  readonly tracksBreakdown: boolean
  /** The exact counters, with the breakdown when asked for. */
  counters(options?: { readonly breakdown?: boolean }): CacheCounters | (CacheCounters & StatsBreakdown)
  /** The cache's stats (for the entry count). */
  stats(): Promise<CacheStats>
  /** Subscribes to operation timings. */
  on(event: 'operation', listener: (event: OperationEvent) => void): unknown
  /** Unsubscribes. */
  off(event: 'operation', listener: (event: OperationEvent) => void): unknown
}

/** One collection's data: the totals, and the breakdown when the cache tracks it. */
export interface MetricsSnapshot {
  readonly stats: CacheCounters
  /** Live entries; `undefined` when the storage could not answer (down, or the cache closed). */
  readonly totalKeys: number | undefined
  readonly breakdown: StatsBreakdown | undefined
}

/** The four per-bucket counters, in export order, with their help text. */
export const BUCKET_COUNTERS: readonly { readonly key: keyof BucketCounts; readonly help: string }[] = [
  { key: 'hits', help: 'Reads that found a live entry' },
  { key: 'misses', help: 'Reads that found no live entry' },
  { key: 'sets', help: 'Writes' },
  { key: 'evictions', help: 'Entries removed (any reason)' },
]

/** Eviction reasons in export order. */
export const EVICTION_REASONS: readonly EvictionReason[] = [
  'explicit',
  'expired',
  'lru',
  'maxItems',
  'scope',
  'rule',
  'tag',
]

/** Default latency buckets in seconds: from 10 µs (in-memory) to 1 s (a slow backend). */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]

/** A labelled value of a breakdown metric. */
export interface BucketSample<L> {
  readonly labels: L
  readonly value: number
}

/**
 * The samples of one per-bucket counter: for every tracked level, each top bucket and the `other`
 * bucket (label `{other}`), labelled `{ level, scope }`.
 */
export function scopeSamples(
  breakdown: StatsBreakdown,
  key: keyof BucketCounts,
): BucketSample<{ level: string; scope: string }>[] {
  const samples: BucketSample<{ level: string; scope: string }>[] = []
  for (const [level, dimension] of Object.entries(breakdown.byScope)) {
    if (dimension === undefined) continue
    for (const { label, value } of labelled(dimension, key))
      samples.push({ labels: { level, scope: label }, value })
  }
  return samples
}

/** The samples of one per-namespace counter, labelled `{ namespace }`. */
export function namespaceSamples(
  breakdown: StatsBreakdown,
  key: keyof BucketCounts,
): BucketSample<{ namespace: string }>[] {
  const dimension = breakdown.byNamespace
  if (dimension === undefined) return []
  return labelled(dimension, key).map(({ label, value }) => ({ labels: { namespace: label }, value }))
}

function labelled(
  dimension: Breakdown<BucketCounts & { readonly label: string }>,
  key: keyof BucketCounts,
): { label: string; value: number }[] {
  const out = dimension.top.map((bucket) => ({ label: bucket.label, value: bucket[key] }))
  out.push({ label: OTHER_LABEL, value: dimension.other[key] })
  return out
}

/**
 * Reads snapshots for one exporter. Collections that overlap (a registry collecting every metric at once)
 * share one snapshot. Counters come from `cache.counters()` (no I/O), so a storage outage never fails a
 * scrape; only the entry count needs the storage, and is left out when it cannot answer.
 */
export class SnapshotSource {
  readonly #cache: ObservedCache
  #pending: Promise<MetricsSnapshot> | undefined

  constructor(cache: ObservedCache) {
    this.#cache = cache
  }

  /** The current snapshot. */
  read(): Promise<MetricsSnapshot> {
    this.#pending ??= this.#load().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #load(): Promise<MetricsSnapshot> {
    const cache = this.#cache
    const totalKeys = await cache.stats().then(
      (stats) => stats.totalKeys,
      () => undefined,
    )
    if (!cache.tracksBreakdown) return { stats: cache.counters(), totalKeys, breakdown: undefined }
    const stats = cache.counters({ breakdown: true }) as CacheCounters & StatsBreakdown
    return { stats, totalKeys, breakdown: stats }
  }
}
