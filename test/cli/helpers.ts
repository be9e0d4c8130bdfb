import { execFile } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { run } from '../../src/cli/run.js'

/** What one CLI run produced. */
export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI as a real subprocess, from the sources (`node --import tsx src/cli/main.ts`), with
 * stdin a pipe (not a terminal) that is closed at once.
 */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: process.cwd(), env: { ...process.env, CACHEADO_URL: '', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        if (error && code === -1) reject(error)
        else resolve({ code, stdout, stderr })
      },
    )
    child.stdin?.end()
  })
}

/** Options of an in-process run: what stdin answers, and whether stdin/stderr are terminals. */
export interface InProcessOptions {
  readonly input?: string
  readonly tty?: boolean
  readonly env?: Record<string, string>
}

/**
 * Runs the CLI in this process through `run()` (the same code `main.ts` calls), with captured streams;
 * `tty: true` makes stdin and stderr claim to be terminals, so the prompt and the progress bar are
 * exercised. (Coverage of the CLI's code comes from these runs: a subprocess is not measured.)
 */
export async function runCli(args: readonly string[], options: InProcessOptions = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty === true })
  if (options.input !== undefined) stdin.end(options.input)
  const code = await run(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.tty === true },
    stdin,
    env: options.env ?? {},
  })
  return { code, stdout, stderr }
}

/** Parses the JSON a `--json` run printed. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}
