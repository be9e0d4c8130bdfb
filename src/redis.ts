/**
 * `cacheado/redis`: the Redis storage (standalone or Cluster, through ioredis, an optional peer
 * dependency) and, for convenience, the serializers it can use.
 *
 * ```ts
 * import { Cache } from 'cacheado'
 * import { RedisStorage } from 'cacheado/redis'
 * const cache = new Cache({ storage: new RedisStorage({ url: 'redis://127.0.0.1:6379', db: 0 }) })
 * ```
 */
export { RedisStorage } from './storage/redis/storage.js'
export type { RedisStorageOptions } from './storage/redis/storage.js'
export type { RedisClient, RedisNode } from './storage/redis/connection.js'
export { RedisBus } from './storage/redis/bus.js'
export type { RedisBusOptions } from './storage/redis/bus.js'
export {
  JsonSerializer,
  MsgpackSerializer,
  SerializerPipeline,
  UNREADABLE,
  checkStorable,
} from './serializers/index.js'
export type { Serializer } from './serializers/index.js'
export type {
  CompressionAlgorithm,
  CompressionOptions,
  EncryptionOptions,
  EntryAddress,
  EntrySerializer,
  KeyRequest,
  SerializerPipelineOptions,
  SerializerPipelineStats,
  TenantKey,
  TenantKeyProvider,
  Unreadable,
  UnreadableEvent,
  UnreadableReason,
} from './serializers/index.js'
