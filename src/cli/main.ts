/**
 * The `cacheado` command (package.json `bin`): an operator tool for the shared backends. Everything
 * lives in `run.ts`; this file only wires it to the process. `node --import tsx src/cli/main.ts` runs
 * it from the sources.
 */
import { run } from './run.js'

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
})
process.exitCode = code
// The command is over: a driver's leftover timer or a socket to a stalled server must not hold the
// process (ioredis keeps a command's timer alive after the connection is dropped). The timer is
// unref'd, so a process that ends on its own ends at once; stdout and stderr are flushed by then (pipes
// and files are written synchronously, and the timer gives a terminal time to drain).
setTimeout(() => process.exit(code), 100).unref()
