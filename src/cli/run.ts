import { parseArgs } from 'node:util'
import { CacheError } from '../errors.js'
import type { StorageAdmin } from '../storage/admin.js'
import { evict, DeclinedError } from './commands/evict.js'
import { inspect } from './commands/inspect.js'
import { invalidateTag } from './commands/invalidate-tag.js'
import { checkTags, MAX_TAGS_PER_INVALIDATION } from '../storage/tags.js'
import { stats } from './commands/stats.js'
import { backendOf, openAdmin } from './connect.js'
import type { CliIO } from './output.js'
import { parseDisplayedKey, redact, safeMessage, secretsOf } from './safe-text.js'
import { resolveScopeArgs, scopeConfigFrom } from './scope-arg.js'
import { UsageError } from './usage-error.js'

/** The longest wait of a Node timer (2^31-1 ms); longer ones fire after 1 ms (as `MAX_TIMER_MS` in ttl.ts). */
const MAX_TIMER_MS = 2_147_483_647

/** Exit codes: success, a failure at run time (server, declined confirmation), a wrong command line. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

export const HELP = `Usage: cacheado <command> [scope] [options]

Operator tool for the shared backends of cacheado (RedisStorage, MongoDBStorage).

Commands
  stats                     live entries, value bytes and the largest scopes
  inspect [scope]           the entries of a scope (default: global) with sizes and TTLs
  evict <scope>             remove every entry of a scope (asks first; --yes in scripts); on Redis,
                            running processes with a local tier are told on the bus (<prefix>:bus)
  invalidate-tag <tag...>   remove the entries carrying any of the tags, in --scope (default: global);
                            asks first (--yes in scripts); published on the bus as evict is

Scopes (default hierarchy organization:orgId > user:userId > session:sessionId)
  organization orgId=o1                 a scope name and its parameters, as in the library
  user orgId=o1 userId=u1
  organization=o1/user=u1               a path, as stats and inspect print it
  global                                every entry

Options
  -u, --url <url>           redis://host:port[/db], rediss://..., mongodb://host:port[/database],
                            mongodb+srv://... (default: $CACHEADO_URL). A Redis Cluster is detected.
      --prefix <prefix>     RedisStorage prefix (default: cacheado)
      --collection <name>   MongoDBStorage collection (default: cache; database from the URL, default cacheado)
      --scopes <spec>       your hierarchy, e.g. "tenant:tenantId>project:projectId" (default: $CACHEADO_SCOPES)
      --json                machine-readable output on stdout
  -n, --limit <n>           scopes (stats, default 10) or entries (inspect, default 50) to list
      --depth <n>           stats: group scopes by their first n levels (default 1: tenants)
      --count-only          stats: count entries without reading value sizes (O(tenants) on Redis)
  -k, --key <key>           evict: only this key of the scope (as inspect shows it; "..." when quoted)
      --scope <scope>       invalidate-tag: the scope, in either form above (e.g. organization=o1)
  -y, --yes                 evict without asking
      --cluster             the Redis URL is a Cluster node (skips detection)
      --timeout <ms>        connect and command timeout (default 3000)
  -h, --help                this help

Exit codes: 0 success, 1 failure (server unreachable, backend error, eviction declined), 2 wrong usage
(unknown command, option or scope, missing parameter, unsupported URL).`

const OPTIONS = {
  url: { type: 'string', short: 'u' },
  prefix: { type: 'string' },
  collection: { type: 'string' },
  scopes: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string', short: 'n' },
  depth: { type: 'string' },
  'count-only': { type: 'boolean' },
  key: { type: 'string', short: 'k' },
  scope: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  cluster: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/**
 * Runs one command line; resolves the exit code. Never throws, never calls `process.exit`. Whatever
 * goes to stderr (errors from the drivers included) has the URL's password replaced by `***`.
 */
export async function run(argv: readonly string[], given: CliIO): Promise<number> {
  let admin: StorageAdmin | undefined
  let secrets: readonly string[] = []
  const io: CliIO = {
    ...given,
    stderr: {
      write: (text: string) => given.stderr.write(redact(text, secrets)),
      ...(given.stderr.isTTY !== undefined ? { isTTY: given.stderr.isTTY } : {}),
    },
  }
  try {
    const { values, positionals } = parse(argv)
    const [command, ...args] = positionals
    if (values.help || command === 'help') {
      io.stdout.write(`${HELP}\n`)
      return EXIT.ok
    }
    if (command === undefined)
      throw new UsageError('a command is needed: stats, inspect, evict or invalidate-tag')
    if (!['stats', 'inspect', 'evict', 'invalidate-tag'].includes(command)) {
      throw new UsageError(`unknown command "${command}"; commands: stats, inspect, evict, invalidate-tag`)
    }
    if (values.scope !== undefined && command !== 'invalidate-tag') {
      throw new UsageError(`--scope applies to invalidate-tag; ${command} takes the scope as its argument`)
    }
    const tagged = command === 'invalidate-tag'
    if (tagged && args.length === 0) {
      throw new UsageError('invalidate-tag needs at least one tag, e.g. cacheado invalidate-tag plan:pro')
    }
    const tags = tagged ? checkTags(args, MAX_TAGS_PER_INVALIDATION, 'invalidate-tag') : []
    const url = values.url ?? io.env.CACHEADO_URL
    if (url === undefined || url === '') {
      throw new UsageError('--url is needed (or CACHEADO_URL), e.g. --url redis://127.0.0.1:6379')
    }
    secrets = secretsOf(url)
    const kind = backendOf(url)
    if (kind === 'redis' && values.collection !== undefined) {
      throw new UsageError('--collection applies to MongoDB URLs; for Redis use --prefix')
    }
    if (kind === 'mongodb' && (values.prefix !== undefined || values.cluster)) {
      throw new UsageError(
        `--${values.prefix !== undefined ? 'prefix' : 'cluster'} applies to Redis URLs; for MongoDB use --collection`,
      )
    }
    if (command === 'stats' && args.length !== 0) {
      throw new UsageError(`stats takes no scope argument, got "${args[0]}"; use inspect <scope>`)
    }
    if (values.key !== undefined && command !== 'evict') {
      throw new UsageError(`--key applies to evict, not ${command}`)
    }
    const key = values.key === undefined ? undefined : parseDisplayedKey(values.key)
    if (key === undefined && values.key !== undefined) {
      throw new UsageError(
        `--key ${values.key}: a quoted key may only hold the escapes \\" \\\\ \\xNN \\uXXXX \\u{X...}, as inspect prints them`,
      )
    }
    const config = scopeConfigFrom(values.scopes ?? io.env.CACHEADO_SCOPES)
    // Arguments are checked before connecting: a wrong scope fails fast, whatever the server does.
    const path =
      command === 'stats'
        ? []
        : tagged
          ? resolveScopeArgs(config, values.scope === undefined ? [] : values.scope.split(/\s+/), [])
          : resolveScopeArgs(config, args, command === 'inspect' ? [] : undefined)
    const limit = integer('--limit', values.limit, command === 'stats' ? 10 : 50, 1)
    const depth = integer('--depth', values.depth, 1, 1)
    // (Node timers wait at most 2^31-1 ms: a longer timeout would fire at once.)
    const timeoutMs = integer('--timeout', values.timeout, 3000, 1, MAX_TIMER_MS)
    admin = await openAdmin({
      url,
      kind,
      prefix: values.prefix ?? 'cacheado',
      collection: values.collection ?? 'cache',
      cluster: values.cluster ? true : undefined,
      timeoutMs,
    })
    if (admin.warning !== undefined) io.stderr.write(`cacheado: warning: ${safeMessage(admin.warning)}\n`)
    const json = values.json === true
    if (command === 'stats') {
      await stats(admin, io, { json, depth, limit, countOnly: values['count-only'] === true })
    } else if (command === 'inspect') {
      await inspect(admin, io, path, { json, limit })
    } else if (tagged) {
      await invalidateTag(admin, io, tags, path, { json, yes: values.yes === true })
    } else {
      await evict(admin, io, path, { json, yes: values.yes === true, key })
    }
    return EXIT.ok
  } catch (error) {
    return report(io, error)
  } finally {
    await admin?.close().catch(() => undefined)
  }
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

function integer(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${name} must be an integer >= ${min}, got "${text}"`)
  }
  if (value > max) throw new UsageError(`${name} must be at most ${max}, got "${text}"`)
  return value
}

/**
 * Prints an error on stderr and chooses the exit code. The message may quote a key, an id or a server
 * reply: its control characters are escaped (and `io.stderr` redacts the password).
 */
function report(io: CliIO, error: unknown): number {
  const message = safeMessage(error instanceof Error ? error.message : String(error))
  if (
    error instanceof UsageError ||
    (error instanceof CacheError &&
      error.code !== 'ERR_CACHEADO_STORAGE' &&
      error.code !== 'ERR_CACHEADO_TIMEOUT')
  ) {
    io.stderr.write(`cacheado: ${message}\nRun "cacheado --help" for usage.\n`)
    return EXIT.usage
  }
  if (error instanceof DeclinedError) {
    io.stderr.write(`cacheado: ${message}\n`)
    return EXIT.failure
  }
  io.stderr.write(`cacheado: error: ${message}\n`)
  return EXIT.failure
}
