import type { StorageAdmin } from '../../storage/admin.js'
import type { ScopePath } from '../../storage/contract.js'
import type { CliIO } from '../output.js'
import { formatPath, formatTtl, table, writeJson } from '../output.js'
import { displayKey } from '../safe-text.js'

/** Options of `cacheado inspect`. */
export interface InspectCommand {
  readonly json: boolean
  readonly limit: number
}

/** `cacheado inspect <scope>`: the live entries of a scope with their sizes and TTLs. */
export async function inspect(
  admin: StorageAdmin,
  io: CliIO,
  path: ScopePath,
  options: InspectCommand,
): Promise<void> {
  const report = await admin.inspect(path, options.limit)
  const scope = formatPath(path)
  if (options.json) {
    writeJson(io, {
      backend: admin.description,
      scope,
      entries: report.entries,
      shown: report.shown.map((e) => ({
        scope: formatPath(e.scope),
        path: e.scope,
        key: e.key,
        bytes: e.bytes,
        ttlMs: e.ttlMs,
      })),
    })
    return
  }
  if (report.entries === 0) {
    io.stdout.write(`scope ${scope}: no live entries\n`)
    return
  }
  const more =
    report.entries > report.shown.length ? ` (showing ${report.shown.length}; --limit for more)` : ''
  let text = `scope ${scope}: ${report.entries} live entries${more}\n`
  text += table(
    ['SCOPE', 'KEY', 'BYTES', 'TTL'],
    report.shown.map((e) => [formatPath(e.scope), displayKey(e.key), String(e.bytes), formatTtl(e.ttlMs)]),
    'llrr',
  )
  io.stdout.write(text)
}
