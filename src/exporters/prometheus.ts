import type { OpenMetricsContentType, PrometheusContentType, Registry } from 'prom-client'
import { Counter, Gauge, Histogram } from 'prom-client'
import { ConfigurationError } from '../errors.js'
import type { OperationEvent } from '../events.js'
import type { MetricsSnapshot, ObservedCache } from '../observability/metrics.js'
import {
  BUCKET_COUNTERS,
  DURATION_BUCKETS_SECONDS,
  EVICTION_REASONS,
  namespaceSamples,
  scopeSamples,
  SnapshotSource,
} from '../observability/metrics.js'

/** Options of {@link registerPrometheus}. */
export interface PrometheusOptions {
  /** The prom-client registry to register the metrics with (e.g. `new Registry()` or `register`). */
  readonly registry: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>
  /** Prefix of every metric name. Default `'cacheado_'`; give each cache of one registry its own. */
  readonly prefix?: string
  /** Upper bounds of the latency histogram's buckets, in seconds. Default: 10 µs to 1 s. */
  readonly durationBuckets?: readonly number[]
}

/** Returned by {@link registerPrometheus}. */
export interface PrometheusExporter {
  /** Names of the registered metrics. */
  readonly metricNames: readonly string[]
  /** Removes the metrics from the registry and stops listening to the cache. */
  unregister(): void
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/**
 * Registers the cache's metrics with a prom-client registry:
 * - `cacheado_hits_total`, `_misses_total`, `_sets_total`, `_evictions_total{reason}`, `cacheado_entries`;
 * - with the cache's `stats` option, `cacheado_scope_{hits,misses,sets,evictions}_total{level,scope}` and
 *   `cacheado_namespace_{...}_total{namespace}` for the top N buckets plus `{other}`;
 * - `cacheado_operation_duration_seconds{operation,outcome}`, a histogram of storage operation latency.
 *
 * Counters are read from `cache.stats()` when the registry collects (one call per scrape).
 */
export function registerPrometheus(cache: ObservedCache, options: PrometheusOptions): PrometheusExporter {
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.registry?.registerMetric !== 'function'
  ) {
    throw new ConfigurationError(
      'registerPrometheus(cache, { registry }) needs a prom-client Registry, e.g. { registry: new Registry() }',
    )
  }
  const prefix = options.prefix ?? 'cacheado_'
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new ConfigurationError(
      `prefix must be the start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(prefix)}`,
    )
  }
  const buckets = [...(options.durationBuckets ?? DURATION_BUCKETS_SECONDS)]
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new ConfigurationError('durationBuckets must be increasing positive numbers of seconds')
  }
  const registry = options.registry
  const registers = [registry]
  const source = new SnapshotSource(cache)
  const names: string[] = []
  /** Creates a metric; records its name only once it is registered (a clash must not unregister another's). */
  const add = <M extends { get(): Promise<{ name: string }> }>(
    name: string,
    create: (name: string) => M,
  ): M => {
    const metric = create(prefix + name)
    names.push(prefix + name)
    return metric
  }
  /** A counter whose values are set from the snapshot at each collection. */
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (snapshot: MetricsSnapshot, metric: Counter<L>) => void,
  ) =>
    add(
      name,
      (full) =>
        new Counter<L>({
          name: full,
          help,
          labelNames,
          registers,
          async collect() {
            const snapshot = await source.read()
            this.reset()
            fill(snapshot, this)
          },
        }),
    )

  try {
    for (const { key, help } of BUCKET_COUNTERS) {
      if (key === 'evictions') continue
      counter(`${key}_total`, `${help} (direct and memoized)`, [], (s, m) => m.inc(s.stats[key]))
    }
    counter('evictions_total', 'Entries removed, by reason', ['reason'], (s, m) => {
      for (const reason of EVICTION_REASONS) m.inc({ reason }, s.stats.evictionsByReason[reason])
    })
    add(
      'entries',
      (full) =>
        new Gauge({
          name: full,
          help: 'Live entries in the storage (NaN while the storage does not answer)',
          registers,
          async collect() {
            // NaN while the storage does not answer: unknown, rather than a wrong 0.
            this.set((await source.read()).totalKeys ?? Number.NaN)
          },
        }),
    )
    if (cache.tracksBreakdown) {
      for (const { key, help } of BUCKET_COUNTERS) {
        counter(
          `scope_${key}_total`,
          `${help}, per scope instance (top N per level; the rest as scope="{other}")`,
          ['level', 'scope'],
          (s, m) => {
            for (const { labels, value } of scopeSamples(s.breakdown!, key)) m.inc(labels, value)
          },
        )
      }
      for (const { key, help } of BUCKET_COUNTERS) {
        counter(
          `namespace_${key}_total`,
          `${help}, per memoized function (top N; the rest as namespace="{other}")`,
          ['namespace'],
          (s, m) => {
            for (const { labels, value } of namespaceSamples(s.breakdown!, key)) m.inc(labels, value)
          },
        )
      }
    }
    const histogram = add(
      'operation_duration_seconds',
      (full) =>
        new Histogram({
          name: full,
          help: 'Duration of storage operations (get, set, evict, evictByScope), memoized reads and writes included',
          labelNames: ['operation', 'outcome'],
          buckets,
          registers,
        }),
    )
    const onOperation = (event: OperationEvent) =>
      histogram.observe({ operation: event.operation, outcome: event.outcome }, event.durationMs / 1000)
    cache.on('operation', onOperation)
    return {
      metricNames: names,
      unregister() {
        cache.off('operation', onOperation)
        for (const name of names) registry.removeSingleMetric(name)
      },
    }
  } catch (error) {
    // A name clash part-way: leave the registry as it was.
    for (const name of names) registry.removeSingleMetric(name)
    throw new ConfigurationError(
      `registerPrometheus: ${error instanceof Error ? error.message : String(error)}; give each cache of one registry its own prefix option`,
      { cause: error },
    )
  }
}
