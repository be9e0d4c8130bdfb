/**
 * `cacheado/mongodb`: the MongoDB storage. Needs the optional peer dependency `mongodb` (6 or later).
 *
 * ```ts
 * import { Cache } from 'cacheado'
 * import { MongoDBStorage } from 'cacheado/mongodb'
 * const storage = new MongoDBStorage({ url: 'mongodb://127.0.0.1:27017', dbName: 'app', collectionName: 'cache' })
 * const cache = new Cache({ storage })
 * ```
 */
export { MongoDBStorage, MongoDBTimeoutError, MAX_DOCUMENT_BYTES } from './storage/mongodb/storage.js'
export type { MongoDBStorageOptions } from './storage/mongodb/storage.js'
export type { EntryDocument } from './storage/mongodb/document.js'
export type { TtlSupport } from './storage/mongodb/indexes.js'
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
