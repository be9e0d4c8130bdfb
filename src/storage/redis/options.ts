import { ConfigurationError } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import { MsgpackSerializer } from '../../serializers/msgpack.js'
import type { RedisClient, RedisNode } from './connection.js'
import { timerMs } from '../../ttl.js'

/** Options of `new RedisStorage(...)`: one of `url`, `cluster`, `client`, plus the optional rest. */
export interface RedisStorageOptions {
  /** `redis://[user:password@]host:port[/db]` of a standalone Redis (`rediss://` for TLS). */
  readonly url?: string
  /** Database number of a standalone Redis; overrides the URL's. */
  readonly db?: number
  /** Seed nodes of a Redis Cluster: a `Cluster` client is created. */
  readonly cluster?: readonly RedisNode[]
  /** Password of the cluster nodes (a `url` carries its own). */
  readonly password?: string
  /** An existing ioredis `Redis` or `Cluster`; `close()` leaves it open. */
  readonly client?: RedisClient
  /** Every key of this cache starts with `prefix:`. Default `'cacheado'`; must not contain `{` or `}`. */
  readonly prefix?: string
  /** How values become bytes. Default: `new MsgpackSerializer()`. */
  readonly serializer?: Serializer
  /** Every command fails after this many milliseconds instead of waiting. Default 1000. */
  readonly commandTimeoutMs?: number
  /**
   * Whether the client the storage creates sends the commands of concurrent operations together, as
   * one write (ioredis auto-pipelining, switched on only while more than one operation is in flight,
   * so a lone operation is sent at once): many concurrent operations then cost far fewer system
   * calls. Default true. A given `client` keeps its own setting.
   */
  readonly autoPipelining?: boolean
  /** Serialized values larger than this are refused before anything is written. Default 512 MiB. */
  readonly maxValueBytes?: number
}

/** Redis's own limit on a string value. */
const REDIS_MAX_VALUE_BYTES = 512 * 1024 * 1024

/** The checked options the storage reads first, with their defaults; a `ConfigurationError` otherwise. */
export function checkOptions(options: RedisStorageOptions): {
  timeout: number
  maxBytes: number
  serializer: Serializer
} {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError("new RedisStorage(options) expects e.g. { url: 'redis://127.0.0.1:6379' }")
  }
  const timeout = options.commandTimeoutMs ?? 1000
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new ConfigurationError(
      `RedisStorage: commandTimeoutMs must be a positive number, got ${String(timeout)}`,
    )
  }
  timerMs(timeout, 'RedisStorage: commandTimeoutMs', '{ commandTimeoutMs: 1000 }')
  const maxBytes = options.maxValueBytes ?? REDIS_MAX_VALUE_BYTES
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > REDIS_MAX_VALUE_BYTES) {
    throw new ConfigurationError(
      `RedisStorage: maxValueBytes must be an integer from 1 to ${REDIS_MAX_VALUE_BYTES}, got ${String(maxBytes)}`,
    )
  }
  const serializer = options.serializer ?? new MsgpackSerializer()
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw new ConfigurationError('RedisStorage: serializer must implement serialize() and deserialize()')
  }
  return { timeout, maxBytes, serializer }
}
