/**
 * `cacheado/prometheus`: exports a cache's stats and operation latency to a prom-client registry.
 * `prom-client` (15+) is an optional peer dependency: install it to use this entry point.
 */
export { registerPrometheus } from './exporters/prometheus.js'
export type { PrometheusExporter, PrometheusOptions } from './exporters/prometheus.js'
export type { ObservedCache } from './observability/metrics.js'
