/**
 * `cacheado/otel`: records a cache's stats and operation latency through `@opentelemetry/api`.
 * `@opentelemetry/api` (1.9+) is an optional peer dependency: install it to use this entry point.
 */
export { registerOpenTelemetry } from './exporters/otel.js'
export type { OpenTelemetryExporter, OpenTelemetryOptions } from './exporters/otel.js'
export type { ObservedCache } from './observability/metrics.js'
