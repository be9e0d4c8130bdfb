// Collects through the real OpenTelemetry SDK (a MetricReader, as an exporter's reader would).
import type { HistogramMetricData, ResourceMetrics, SumMetricData } from '@opentelemetry/sdk-metrics'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { describe, expect, it } from 'vitest'
import { Cache, ConfigurationError } from '../../src/index.js'
import { registerOpenTelemetry } from '../../src/otel.js'

/** A reader collected on demand. */
class ManualReader extends MetricReader {
  protected async onShutdown() {}
  protected async onForceFlush() {}
}

/** `name` -> data points as `attributes JSON` -> value (sums and gauges) or histogram count. */
function points(resourceMetrics: ResourceMetrics): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const byAttributes = new Map<string, number>()
      for (const point of metric.dataPoints) {
        const value =
          metric.dataPointType === DataPointType.HISTOGRAM
            ? (point as HistogramMetricData['dataPoints'][number]).value.count
            : (point as SumMetricData['dataPoints'][number]).value
        byAttributes.set(JSON.stringify(point.attributes), value)
      }
      out.set(metric.descriptor.name, byAttributes)
    }
  }
  return out
}

describe('cacheado/otel', () => {
  it('records the same metrics through the SDK: totals, top-N breakdown, latency histogram', async () => {
    const reader = new ManualReader()
    const provider = new MeterProvider({ readers: [reader] })
    const cache = new Cache({ stats: { topN: 1, levels: ['organization'] } })
    const exporter = registerOpenTelemetry(cache, { meter: provider.getMeter('test') })
    await cache.set('a', 1, { scope: 'organization', orgId: 'acme' })
    await cache.get('a', { scope: 'organization', orgId: 'acme' })
    await cache.get('a', { scope: 'organization', orgId: 'acme' })
    await cache.get('b', { scope: 'organization', orgId: 'umbrella' }) // replaces acme in the top 1
    const slow = cache.cache({ namespace: 'slow' })(async () => 42)
    await slow()
    await cache.evict('a', { scope: 'organization', orgId: 'acme' })

    const { resourceMetrics, errors } = await reader.collect()
    expect(errors).toEqual([])
    const metrics = points(resourceMetrics)
    const value = (name: string, attributes: object = {}) =>
      metrics.get(name)?.get(JSON.stringify(attributes))
    expect(value('cacheado.hits')).toBe(2)
    expect(value('cacheado.misses')).toBe(2)
    expect(value('cacheado.sets')).toBe(2)
    expect(value('cacheado.evictions', { reason: 'explicit' })).toBe(1)
    expect(value('cacheado.evictions', { reason: 'lru' })).toBe(0)
    expect(value('cacheado.entries')).toBe(1)
    // acme was replaced by umbrella, then its eviction brought it back (umbrella's miss moved to {other})
    expect(value('cacheado.scope.evictions', { level: 'organization', scope: 'acme' })).toBe(1)
    expect(value('cacheado.scope.hits', { level: 'organization', scope: '{other}' })).toBe(2)
    expect(value('cacheado.scope.misses', { level: 'organization', scope: '{other}' })).toBe(1)
    expect(value('cacheado.scope.misses', { level: 'organization', scope: 'umbrella' })).toBeUndefined()
    expect(value('cacheado.namespace.sets', { namespace: 'slow' })).toBe(1)
    expect(value('cacheado.operation.duration', { operation: 'get', outcome: 'hit' })).toBe(2)
    expect(value('cacheado.operation.duration', { operation: 'get', outcome: 'miss' })).toBe(2)
    expect(value('cacheado.operation.duration', { operation: 'set', outcome: 'ok' })).toBe(2)
    expect(value('cacheado.operation.duration', { operation: 'evict', outcome: 'ok' })).toBe(1)
    const duration = resourceMetrics.scopeMetrics[0]!.metrics.find(
      (m) => m.descriptor.name === 'cacheado.operation.duration',
    ) as HistogramMetricData
    expect(duration.descriptor.unit).toBe('s')
    expect(duration.dataPoints[0]!.value.buckets.boundaries[0]).toBe(0.00001)

    exporter.unregister()
    expect(cache.listenerCount('operation')).toBe(0)
    cache.setSync('z', 1)
    cache.getSync('z')
    expect(cache.statsSync().hits).toBe(3)
    const after = points((await reader.collect()).resourceMetrics)
    // the callback is gone: the SDK keeps the last cumulative value, nothing newer is observed
    expect(after.get('cacheado.hits')?.get('{}') ?? 2).toBe(2)
    await provider.shutdown()
  })

  it('works with a periodic exporting reader and the in-memory exporter, cumulative', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })
    const provider = new MeterProvider({ readers: [reader] })
    const cache = new Cache()
    registerOpenTelemetry(cache, { meter: provider.getMeter('app'), prefix: 'sessions.' })
    cache.setSync('k', 1)
    cache.getSync('k')
    await reader.forceFlush()
    cache.getSync('k')
    await reader.forceFlush()
    const exported = exporter.getMetrics()
    expect(exported).toHaveLength(2)
    const hits = exported.map((rm) => points(rm).get('sessions.hits')?.get('{}'))
    expect(hits).toEqual([1, 2])
    expect(points(exported[1]!).has('sessions.scope.hits')).toBe(false) // no stats option, no breakdown
    await provider.shutdown()
  })

  it('refuses bad options with a clear error', () => {
    const cache = new Cache()
    expect(() => registerOpenTelemetry(cache, { meter: {} as never })).toThrow(ConfigurationError)
    expect(() => registerOpenTelemetry(cache, { durationBuckets: [] })).toThrow(
      'durationBuckets must be increasing positive numbers of seconds',
    )
    // the default meter comes from the global API (a no-op provider here): nothing breaks
    const exporter = registerOpenTelemetry(cache)
    cache.setSync('k', 1)
    exporter.unregister()
  })
})
