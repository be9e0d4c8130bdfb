import type { StorageAdmin } from '../storage/admin.js'
import { redact, secretsOf } from './safe-text.js'
import { UsageError } from './usage-error.js'

/** Which backend a URL names, with the options that apply to it. */
export interface Target {
  readonly url: string
  readonly kind: 'redis' | 'mongodb'
  readonly prefix: string
  readonly collection: string
  readonly cluster: boolean | undefined
  readonly timeoutMs: number
}

const SCHEMES: Record<string, Target['kind']> = {
  'redis:': 'redis',
  'rediss:': 'redis',
  'mongodb:': 'mongodb',
  'mongodb+srv:': 'mongodb',
}

/**
 * The backend of a URL; a `UsageError` naming the accepted schemes otherwise (quoting the URL without
 * its password, even when it does not parse).
 */
export function backendOf(url: string): Target['kind'] {
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch {
    throw new UsageError(
      `--url "${redact(url, secretsOf(url))}" is not a URL; expected redis://host:port[/db], rediss://..., mongodb://host:port[/database] or mongodb+srv://...`,
    )
  }
  const kind = SCHEMES[protocol]
  if (kind === undefined) {
    throw new UsageError(
      `--url: unsupported scheme "${protocol}"; accepted: redis://, rediss:// (RedisStorage), mongodb://, mongodb+srv:// (MongoDBStorage)`,
    )
  }
  return kind
}

/**
 * Connects to the backend of `target`. The backend's driver (an optional peer dependency of the
 * library) is loaded only now, with a dynamic import, so the CLI starts without the other one; a
 * missing driver is reported with the command that installs it.
 */
export async function openAdmin(target: Target): Promise<StorageAdmin> {
  if (target.kind === 'redis') {
    const { openRedisAdmin } = await load('ioredis', () => import('../storage/redis/admin.js'))
    return openRedisAdmin({
      url: target.url,
      prefix: target.prefix,
      timeoutMs: target.timeoutMs,
      ...(target.cluster !== undefined ? { cluster: target.cluster } : {}),
    })
  }
  const { openMongoDBAdmin } = await load('mongodb', () => import('../storage/mongodb/admin.js'))
  const admin = await openMongoDBAdmin({
    url: target.url,
    collection: target.collection,
    timeoutMs: target.timeoutMs,
  })
  return admin
}

/** Imports a module that needs `driver`, turning "package not found" into an install hint. */
export async function load<T>(driver: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer()
  } catch (error) {
    if (isMissing(error, driver)) {
      throw new Error(`this URL needs the "${driver}" package, which is not installed: npm i ${driver}`, {
        cause: error,
      })
    }
    throw error
  }
}

function isMissing(error: unknown, driver: string): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    (error.message.includes(`'${driver}'`) || error.message.includes(`"${driver}"`))
  )
}
