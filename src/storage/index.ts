/**
 * `cacheado/storage`: everything a storage provider's author needs, and nothing of the cache itself.
 * The contract a provider implements ({@link StorageProvider} and its optional capabilities: the
 * synchronous side, entry locks, write fences, the invalidation bus), the {@link MISS} marker, the
 * injective key encoding for backends with flat string keys (encode and its one decode: the
 * tenant-isolation invariant), the serializers and the errors a provider reports with. Test a provider
 * with `describeStorageConformance` from `cacheado/testing`.
 *
 * ```ts
 * import type { EntryRef, StorageProvider } from 'cacheado/storage'
 * import { MISS, encodeEntryRef } from 'cacheado/storage'
 * ```
 */
export { BUS_RECEIVER_TIMING, MISS } from './contract.js'
export type {
  AutomaticEvictionReason,
  BoundOrder,
  BoundPolicy,
  ByteUsage,
  Bus,
  BusHandlers,
  BusMessage,
  EntryHandle,
  EntryLocks,
  EntryRef,
  EntryWrite,
  EvictionReason,
  Invalidation,
  LeaseHandle,
  LockHandle,
  Miss,
  ScopePath,
  ScopeSemaphores,
  ScopeSegment,
  StorageContext,
  StorageProvider,
  StoredEntry,
  SyncStorageOperations,
  SyncStorageProvider,
  WriteFence,
  WriteOptions,
} from './contract.js'
export { checkTags, MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY, MAX_TAGS_PER_INVALIDATION } from './tags.js'
export {
  decodeEntryRef,
  decodeScopePath,
  encodeEntryRef,
  encodeScopePath,
  encodeSegment,
  escapeComponent,
  unescapeComponent,
} from './key-encoding.js'
export {
  JsonSerializer,
  MsgpackSerializer,
  SerializerPipeline,
  UNREADABLE,
  checkStorable,
} from '../serializers/index.js'
export type { Serializer } from '../serializers/index.js'
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
} from '../serializers/index.js'
export {
  CacheError,
  ConfigurationError,
  InvalidArgumentError,
  SerializationError,
  StorageError,
  TimeoutError,
} from '../errors.js'
export type { CacheErrorCode, TimeoutDetails } from '../errors.js'
