import type { StorageAdmin } from '../../storage/admin.js'
import type { CliIO } from '../output.js'
import { formatBytes, formatPath, table, writeJson } from '../output.js'
import { safeMessage } from '../safe-text.js'

/** Options of `cacheado stats`. */
export interface StatsCommand {
  readonly json: boolean
  readonly depth: number
  readonly limit: number
  readonly countOnly: boolean
}

/** `cacheado stats`: live entries, value bytes, and the largest scopes at a depth. */
export async function stats(admin: StorageAdmin, io: CliIO, options: StatsCommand): Promise<void> {
  const report = await admin.stats({ depth: options.depth, limit: options.limit, bytes: !options.countOnly })
  if (options.json) {
    writeJson(io, {
      backend: admin.description,
      entries: report.entries,
      ...(report.bytes !== undefined ? { bytes: report.bytes } : {}),
      depth: options.depth,
      scopes: report.scopes,
      largest: report.largest.map((usage) => ({
        scope: formatPath(usage.path),
        path: usage.path,
        entries: usage.entries,
        ...(usage.bytes !== undefined ? { bytes: usage.bytes } : {}),
      })),
    })
    return
  }
  const bytes = report.bytes
  let text = `${safeMessage(admin.description)}\n\n`
  text += `  entries  ${report.entries}\n`
  if (bytes !== undefined) text += `  bytes    ${bytes} (${formatBytes(bytes)} of serialized values)\n`
  text += `  scopes   ${report.scopes} at depth ${options.depth}\n`
  if (report.largest.length !== 0) {
    text += `\nLargest scopes\n`
    const withBytes = bytes !== undefined
    text += table(
      withBytes ? ['SCOPE', 'ENTRIES', 'BYTES'] : ['SCOPE', 'ENTRIES'],
      report.largest.map((u) => {
        const row = [formatPath(u.path), String(u.entries)]
        if (withBytes) row.push(String(u.bytes ?? 0))
        return row
      }),
      'lrr',
    )
  }
  io.stdout.write(text)
}
