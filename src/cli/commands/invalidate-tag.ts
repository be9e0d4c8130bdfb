import type { StorageAdmin } from '../../storage/admin.js'
import type { ScopePath } from '../../storage/contract.js'
import type { CliIO } from '../output.js'
import { formatDuration, formatPath, writeJson } from '../output.js'
import { safeMessage } from '../safe-text.js'
import { confirm } from './evict.js'

/** Options of `cacheado invalidate-tag`. */
export interface InvalidateTagCommand {
  readonly json: boolean
  readonly yes: boolean
}

/**
 * `cacheado invalidate-tag <tag...> [--scope <scope>]`: asks for a confirmation (a terminal is required
 * unless `--yes`), then removes the entries of the scope (default: global) carrying any of the tags,
 * the way a cache's `invalidateTags` does, and on a backend with a bus publishes it so that local tiers
 * drop their copies of the scope (as `evict` does).
 */
export async function invalidateTag(
  admin: StorageAdmin,
  io: CliIO,
  tags: readonly string[],
  path: ScopePath,
  options: InvalidateTagCommand,
): Promise<void> {
  const scope = formatPath(path)
  const shown = tags.map((tag) => JSON.stringify(tag)).join(', ')
  if (!options.yes) {
    await confirm(
      io,
      safeMessage(`Remove the entries tagged ${shown} in scope ${scope} from ${admin.description}?`),
      'invalidate-tag',
    )
  }
  const started = Date.now()
  const removed = await admin.invalidateTags(tags, path)
  const ms = Date.now() - started
  if (options.json) {
    writeJson(io, { backend: admin.description, scope, tags, removed, ms, published: admin.bus ?? null })
    return
  }
  const told = admin.bus === undefined ? '' : `; local tiers told on ${safeMessage(admin.bus)}`
  io.stdout.write(
    safeMessage(`removed ${removed} entries tagged ${shown} in scope ${scope} in ${formatDuration(ms)}`) +
      `${told}\n`,
  )
}
