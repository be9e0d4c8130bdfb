// A jest transform for our TypeScript sources: esbuild (already installed by tsup and tsx) strips the
// types and emits CommonJS, which jest runs without its experimental ESM mode.
import { transformSync } from 'esbuild'

export default {
  /**
   * @param {string} source
   * @param {string} filename
   */
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcefile: filename,
      sourcemap: 'external',
    })
    return { code, map }
  },
}
