import { defineConfig } from 'tsup'
import type { Options } from 'tsup'

/** ESM first, with a CommonJS build and type declarations for both. */
export const libraryConfig: Options = {
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis.ts',
    mongodb: 'src/mongodb.ts',
    prometheus: 'src/prometheus.ts',
    otel: 'src/otel.ts',
    storage: 'src/storage/index.ts',
    testing: 'src/testing/index.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
    nestjs: 'src/nestjs.ts',
    keyv: 'src/keyv.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  // dist/bin/ is the CLI's, built at the same time by the config below.
  clean: ['!bin/**'],
  target: 'node20',
  // Shared chunks keep one copy of the core (errors, contract) so instanceof works across entries.
  splitting: true,
  treeshake: true,
  external: [
    'ioredis',
    'mongodb',
    'msgpackr',
    'prom-client',
    '@opentelemetry/api',
    'express',
    'fastify',
    '@nestjs/common',
    '@nestjs/core',
    'rxjs',
    'keyv',
  ],
}

/**
 * The `cacheado` command (package.json `bin`): ESM only, with a shebang. Its own directory, because
 * code splitting keeps each backend (and the `import 'ioredis'` / `'mongodb'` it makes) in a chunk
 * that is loaded only when a URL needs it; without splitting, esbuild would hoist those imports to
 * the top of the bin and a Redis-only install could not start it.
 */
export const cliConfig: Options = {
  entry: { cli: 'src/cli/main.ts' },
  outDir: 'dist/bin',
  format: ['esm'],
  banner: { js: '#!/usr/bin/env node' },
  dts: false,
  sourcemap: false,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
  external: ['ioredis', 'mongodb', 'msgpackr'],
}

export default defineConfig([libraryConfig, cliConfig])
