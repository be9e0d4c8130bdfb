/**
 * The `cacheado` command (package.json `bin`): an operator tool for the shared backends. Everything
 * lives in `run.ts`; this file only wires it to the process. `node --import tsx src/cli/main.ts` runs
 * it from the sources.
 */
import { run } from './run.js'

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
})
