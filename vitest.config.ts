import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url))

export default defineConfig({
  // Examples import 'cacheado' as users do; here that is the source, not the build.
  resolve: {
    alias: [
      { find: /^cacheado$/, replacement: src('index.ts') },
      {
        find: /^cacheado\/(redis|mongodb|prometheus|otel|express|fastify|nestjs|keyv)$/,
        replacement: src('$1.ts'),
      },
      { find: /^cacheado\/(storage|testing)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 90, statements: 90, functions: 90, branches: 80 },
    },
  },
})
