import { createInterface } from 'node:readline/promises'
import type { StorageAdmin } from '../../storage/admin.js'
import type { ScopePath } from '../../storage/contract.js'
import type { CliIO } from '../output.js'
import { formatDuration, formatPath, ProgressBar, writeJson } from '../output.js'
import { displayKey, safeMessage } from '../safe-text.js'
import { UsageError } from '../usage-error.js'

/** Options of `cacheado evict`. */
export interface EvictCommand {
  readonly json: boolean
  readonly yes: boolean
  /** Only this key of the scope (`--key`), rather than the whole scope. */
  readonly key?: string | undefined
}

/** The user answered no: exit code 1, nothing changed. */
export class DeclinedError extends Error {}

/**
 * `cacheado evict <scope>`: counts the scope, asks for a confirmation (a terminal is required unless
 * `--yes`: a script must say so explicitly), then evicts with a progress bar on a terminal and always
 * prints a summary. On a backend with a bus the eviction is published (see `StorageAdmin.evict`), even
 * for a scope with no live entries.
 */
export async function evict(
  admin: StorageAdmin,
  io: CliIO,
  path: ScopePath,
  options: EvictCommand,
): Promise<void> {
  const scope = formatPath(path)
  if (options.key !== undefined) return evictKey(admin, io, path, options.key, options)
  const live = await admin.count(path)
  if (live === 0) {
    // Nothing to confirm, but where there is a bus the eviction still runs and is published: local
    // tiers may hold copies of entries already gone from the storage (deleted by a process without a
    // bus, or whose invalidation was lost), and this is how an operator makes them drop those.
    const evicted = admin.bus === undefined ? 0 : await admin.evict(path, () => undefined)
    if (options.json) {
      writeJson(io, { backend: admin.description, scope, evicted, published: admin.bus ?? null })
    } else if (admin.bus === undefined) {
      io.stdout.write(`scope ${scope}: no live entries, nothing to evict\n`)
    } else {
      io.stdout.write(`scope ${scope}: no live entries${told(admin)}\n`)
    }
    return
  }
  if (!options.yes)
    await confirm(io, safeMessage(`Evict ${live} live entries of scope ${scope} from ${admin.description}?`))
  const bar = new ProgressBar(io, live, 'evicting')
  const started = Date.now()
  let evicted: number
  try {
    evicted = await admin.evict(path, (removed) => bar.update(removed))
  } finally {
    bar.done()
  }
  const ms = Date.now() - started
  if (options.json)
    writeJson(io, { backend: admin.description, scope, evicted, ms, published: admin.bus ?? null })
  else
    io.stdout.write(`evicted ${evicted} entries of scope ${scope} in ${formatDuration(ms)}${told(admin)}\n`)
}

/** `; local tiers told on <channel>` when the eviction was published. */
function told(admin: StorageAdmin): string {
  return admin.bus === undefined ? '' : `; local tiers told on ${safeMessage(admin.bus)}`
}

/** `evict <scope> --key <key>`: one entry, with the same confirmation rules. */
async function evictKey(
  admin: StorageAdmin,
  io: CliIO,
  path: ScopePath,
  key: string,
  options: EvictCommand,
): Promise<void> {
  const scope = formatPath(path)
  const shown = displayKey(key)
  if (!options.yes)
    await confirm(io, safeMessage(`Evict the entry ${shown} of scope ${scope} from ${admin.description}?`))
  const existed = await admin.evictKey(path, key)
  if (options.json) {
    writeJson(io, {
      backend: admin.description,
      scope,
      key,
      evicted: existed ? 1 : 0,
      published: admin.bus ?? null,
    })
  } else {
    const what = existed
      ? `evicted the entry ${shown} of scope ${scope}`
      : `no entry ${shown} in scope ${scope}`
    io.stdout.write(`${what}${told(admin)}\n`)
  }
}

/** Asks `question` on a terminal; a `UsageError` without one, a `DeclinedError` unless answered yes. */
export async function confirm(io: CliIO, question: string, command = 'evict'): Promise<void> {
  if (io.stdin.isTTY !== true) {
    throw new UsageError(
      `${command} asks for a confirmation, but stdin is not a terminal; pass --yes to ${command === 'evict' ? 'evict' : 'run it'} without asking`,
    )
  }
  const prompt = createInterface({
    input: io.stdin,
    output: io.stderr as NodeJS.WritableStream,
    terminal: false,
  })
  try {
    // End of input (Ctrl-D) counts as "no".
    const closed = new Promise<string>((resolve) => prompt.once('close', () => resolve('')))
    const answer = await Promise.race([prompt.question(`${question} This cannot be undone. [y/N] `), closed])
    if (!/^y(es)?$/i.test(answer.trim()))
      throw new DeclinedError(`not confirmed; nothing was ${command === 'evict' ? 'evicted' : 'invalidated'}`)
  } finally {
    prompt.close()
  }
}
