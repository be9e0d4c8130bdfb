import { defineConfig } from 'tsup'

/** ESM first, with a CommonJS build and type declarations for both. */
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
  external: ['ioredis', 'mongodb', 'msgpackr'],
})
