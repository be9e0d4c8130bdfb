import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api'
import { metrics, ValueType } from '@opentelemetry/api'
import { ConfigurationError } from '../errors.js'
import type { OperationEvent } from '../events.js'
import type { ObservedCache } from '../observability/metrics.js'
import {
  BUCKET_COUNTERS,
  DURATION_BUCKETS_SECONDS,
  EVICTION_REASONS,
  namespaceSamples,
  scopeSamples,
  SnapshotSource,
} from '../observability/metrics.js'

/** Options of {@link registerOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** The meter to record with. Default: `metrics.getMeter('cacheado')` from the global meter provider. */
  readonly meter?: Meter
  /** Prefix of every instrument name. Default `'cacheado.'`; give each cache of one meter its own. */
  readonly prefix?: string
  /** Bucket boundaries advised for the latency histogram, in seconds. Default: 10 µs to 1 s. */
  readonly durationBuckets?: readonly number[]
}

/** Returned by {@link registerOpenTelemetry}. */
export interface OpenTelemetryExporter {
  /** Names of the instruments created. */
  readonly instrumentNames: readonly string[]
  /** Stops observing the cache (the instruments stay with the meter, reporting nothing new). */
  unregister(): void
}

/**
 * Records the cache's metrics through `@opentelemetry/api`, with the layout of `cacheado/prometheus`:
 * observable counters `cacheado.hits`, `.misses`, `.sets`, `.evictions{reason}`, the observable gauge
 * `cacheado.entries`; with the cache's `stats` option `cacheado.scope.{hits,...}{level,scope}` and
 * `cacheado.namespace.{hits,...}{namespace}` (top N plus `{other}`); and the histogram
 * `cacheado.operation.duration{operation,outcome}` in seconds.
 *
 * Observable values are read from `cache.stats()` once per collection.
 */
export function registerOpenTelemetry(
  cache: ObservedCache,
  options: OpenTelemetryOptions = {},
): OpenTelemetryExporter {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('registerOpenTelemetry(cache, options) expects an options object or nothing')
  }
  const meter = options.meter ?? metrics.getMeter('cacheado')
  if (typeof meter?.createObservableCounter !== 'function') {
    throw new ConfigurationError(
      'the meter option must be an OpenTelemetry Meter, e.g. meterProvider.getMeter("app")',
    )
  }
  const prefix = options.prefix ?? 'cacheado.'
  if (typeof prefix !== 'string') throw new ConfigurationError('prefix must be a string such as "cacheado."')
  const buckets = [...(options.durationBuckets ?? DURATION_BUCKETS_SECONDS)]
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new ConfigurationError('durationBuckets must be increasing positive numbers of seconds')
  }

  const names: string[] = []
  const observables: Observable[] = []
  const observable = (kind: 'counter' | 'gauge', name: string, description: string): Observable => {
    const opts = { description, unit: '{entry}', valueType: ValueType.INT }
    const instrument =
      kind === 'counter'
        ? meter.createObservableCounter(prefix + name, opts)
        : meter.createObservableGauge(prefix + name, opts)
    names.push(prefix + name)
    observables.push(instrument)
    return instrument
  }

  const totals = BUCKET_COUNTERS.map(({ key, help }) => ({
    key,
    instrument: observable('counter', key, key === 'evictions' ? `${help}, by reason` : help),
  }))
  const entries = observable('gauge', 'entries', 'Live entries in the storage')
  const breakdowns = cache.tracksBreakdown
    ? BUCKET_COUNTERS.map(({ key, help }) => ({
        key,
        scope: observable(
          'counter',
          `scope.${key}`,
          `${help}, per scope instance (top N per level, then {other})`,
        ),
        namespace: observable(
          'counter',
          `namespace.${key}`,
          `${help}, per memoized function (top N, then {other})`,
        ),
      }))
    : []

  const source = new SnapshotSource(cache)
  const callback: BatchObservableCallback = async (result) => {
    const { stats, totalKeys, breakdown } = await source.read()
    for (const { key, instrument } of totals) {
      if (key !== 'evictions') result.observe(instrument, stats[key])
      else
        for (const reason of EVICTION_REASONS)
          result.observe(instrument, stats.evictionsByReason[reason], { reason })
    }
    if (totalKeys !== undefined) result.observe(entries, totalKeys)
    if (breakdown === undefined) return
    for (const { key, scope, namespace } of breakdowns) {
      for (const { labels, value } of scopeSamples(breakdown, key)) result.observe(scope, value, labels)
      for (const { labels, value } of namespaceSamples(breakdown, key))
        result.observe(namespace, value, labels)
    }
  }
  meter.addBatchObservableCallback(callback, observables)

  const histogram = meter.createHistogram(`${prefix}operation.duration`, {
    description:
      'Duration of storage operations (get, set, evict, evictByScope), memoized reads and writes included',
    unit: 's',
    advice: { explicitBucketBoundaries: buckets },
  })
  names.push(`${prefix}operation.duration`)
  const onOperation = (event: OperationEvent) =>
    histogram.record(event.durationMs / 1000, { operation: event.operation, outcome: event.outcome })
  cache.on('operation', onOperation)

  return {
    instrumentNames: names,
    unregister() {
      cache.off('operation', onOperation)
      meter.removeBatchObservableCallback(callback, observables)
    },
  }
}
