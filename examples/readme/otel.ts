// The README's "OpenTelemetry": the same metrics through a MeterProvider.
import { Cache } from 'cacheado'
import { registerOpenTelemetry } from 'cacheado/otel'
import type { SumMetricData } from '@opentelemetry/sdk-metrics'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'

export async function main(log: (line: string) => void = console.log) {
  // In an application: your OTLP exporter here, and registerOpenTelemetry(cache) uses the global provider.
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })
  const provider = new MeterProvider({ readers: [reader] })

  // #region otel
  const cache = new Cache({ stats: { topN: 100 } })
  registerOpenTelemetry(cache, { meter: provider.getMeter('my-app') })
  // #endregion

  cache.setSync('plan', 'pro', { scope: 'organization', orgId: 'acme' })
  cache.getSync('plan', { scope: 'organization', orgId: 'acme' })
  cache.getSync('plan', { scope: 'organization', orgId: 'globex' })
  await reader.forceFlush()

  const exported = exporter.getMetrics().at(-1)!.scopeMetrics[0]!.metrics
  const values: Record<string, number> = {}
  for (const metric of exported as SumMetricData[]) {
    for (const point of metric.dataPoints) {
      const attributes = Object.entries(point.attributes)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',')
      const name = `${metric.descriptor.name}${attributes ? `{${attributes}}` : ''}`
      if (typeof point.value === 'number') values[name] = point.value
    }
  }
  for (const name of [
    'cacheado.hits',
    'cacheado.misses',
    'cacheado.scope.hits{level=organization,scope=acme}',
  ]) {
    log(`${name} = ${values[name]}`)
  }
  await provider.shutdown()
  return values
}
