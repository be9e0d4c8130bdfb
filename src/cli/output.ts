import type { ScopePath } from '../storage/contract.js'
import { escapePathComponent, safeJson } from './safe-text.js'

/** Where the CLI writes: stdout for results, stderr for prompts, progress and errors. */
export interface CliIO {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean }
  /** Read for the confirmation of `evict`, and only when it is a terminal. */
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
}

/**
 * A scope path as the CLI prints and accepts it: `level=id` segments joined by `/` (`global` for the
 * root). Ids are escaped as in the storage keys (`/` is `%2F`, `=` is `%3D`, `%` is `%25`, ...), and
 * so are white space and control characters (`%20`, `%0A`, `%u202E`), so a printed path is one shell
 * word that `resolveScopeArgs` turns back into the same path: it can be pasted back into `inspect` or
 * `evict` unchanged. An empty id prints as `level=` (nothing after the `=`).
 */
export function formatPath(path: ScopePath): string {
  if (path.length === 0) return 'global'
  return path.map((s) => `${escapePathComponent(s.level)}=${escapePathComponent(s.id)}`).join('/')
}

/** `1536` → `1.5 KiB` (binary units, one decimal). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** A TTL left: `none`, `950ms`, `42s`, `5m03s`, `2h05m`, `3d04h`. */
export function formatTtl(ms: number | null): string {
  if (ms === null) return 'none'
  if (ms < 1000) return `${ms}ms`
  const s = Math.floor(ms / 1000)
  const two = (n: number) => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`
}

/** A duration: `85 ms`, `2.4 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** A plain-text table: a header row, then rows; columns marked `'r'` are right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: string,
): string {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)))
  const line = (row: readonly string[]) =>
    row
      .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  return all.map((row) => `  ${line(row)}\n`).join('')
}

/**
 * Writes a JSON document (one line per value, indented for people who read it). Its strings parse to
 * exactly the stored keys and ids; characters a terminal would act on are written as `\uXXXX`.
 */
export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${safeJson(value)}\n`)
}

/**
 * A progress bar on stderr, drawn only when stderr is a terminal (pipes and CI logs get no control
 * characters) and at most every 100 ms; `done()` clears it. Totals that move (entries written during
 * an eviction) are clamped to 100 %.
 */
export class ProgressBar {
  readonly #tty: boolean
  #last = 0
  #drawn = false

  constructor(
    readonly io: CliIO,
    readonly total: number,
    readonly label: string,
  ) {
    this.#tty = io.stderr.isTTY === true
  }

  update(done: number): void {
    if (!this.#tty) return
    const now = Date.now()
    if (this.#drawn && now - this.#last < 100 && done < this.total) return
    this.#last = now
    this.#drawn = true
    const ratio = this.total === 0 ? 1 : Math.min(1, done / this.total)
    const width = 30
    const filled = Math.round(ratio * width)
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`
    this.io.stderr.write(`\r${this.label} [${bar}] ${Math.round(ratio * 100)}% ${done}/${this.total}`)
  }

  done(): void {
    if (this.#drawn) this.io.stderr.write('\r\x1b[2K')
  }
}
