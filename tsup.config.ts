import { defineConfig } from 'tsup'

/** ESM first, with a CommonJS build and type declarations for both. */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis.ts',
    mongodb: 'src/mongodb.ts',
    prometheus: 'src/prometheus.ts',
    otel: 'src/otel.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks keep one copy of the core (errors, contract) so instanceof works across entries.
  splitting: true,
  treeshake: true,
  external: ['ioredis', 'mongodb', 'msgpackr', 'prom-client', '@opentelemetry/api'],
})
