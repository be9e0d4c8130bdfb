/**
 * cacheado: a cache for multi-tenant applications. The main entry holds the cache, the scopes, the
 * in-memory storage and the rules; optional backends live in `cacheado/redis` and `cacheado/mongodb`,
 * the storage contract for provider authors in `cacheado/storage`.
 */
export { Cache } from './cache.js'
// Bulk reads and inspection (getMany, setMany, evictMany, has, expiresAt, getWithMetadata).
export { MAX_BULK_KEYS } from './bulk-args.js'
export type { SetManyEntry } from './bulk-args.js'
export type { ReadMetadata, ReadTier } from './operations/bulk.js'
export type {
  CacheOptions,
  CacheStatsWithBreakdown,
  GetOrSetOptions,
  LevelName,
  ScopeOptions,
  SetOptions,
  StatsQuery,
} from './cache.js'
export { ScopeConfig, defaultScopeConfig } from './scopes/scope-config.js'
export type { DefaultScopeConfig, ResolvedLevel } from './scopes/scope-config.js'
export { ScopeLevel } from './scopes/scope-level.js'
export type { ScopeId, ScopeLevelShape } from './scopes/scope-level.js'
export type {
  AmbientScope,
  AmbientScopeParams,
  CrossScopeOption,
  GlobalScope,
  ScopeName,
  ScopeParamName,
  ScopeParams,
  ScopeSelector,
} from './scopes/types.js'
export { InMemory } from './storage/memory/in-memory.js'
// The storage contract: what users of a Cache name. Provider authors import from `cacheado/storage`.
export type {
  AutomaticEvictionReason,
  BoundOrder,
  BoundPolicy,
  ByteUsage,
  Bus,
  EntryRef,
  EntryWrite,
  EvictionReason,
  Invalidation,
  ScopePath,
  ScopeSegment,
  StorageProvider,
  SyncStorageProvider,
  WriteOptions,
} from './storage/contract.js'
export { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY, MAX_TAGS_PER_INVALIDATION } from './storage/tags.js'
// Deprecated here (import from `cacheado/storage`), kept so that existing imports compile.
export { MISS, encodeEntryRef, encodeScopePath, encodeSegment, escapeComponent } from './storage-compat.js'
export type {
  BusHandlers,
  BusMessage,
  EntryLocks,
  LockHandle,
  Miss,
  StorageContext,
  StoredEntry,
  SyncStorageOperations,
  WriteFence,
} from './storage-compat.js'
export { LRUEvict } from './rules/lru.js'
export { estimateSize, ESTIMATE_NODE_CAP } from './storage/memory/size.js'
export { MaxItemsEvict } from './rules/max-items.js'
export { LifeTimeEvict } from './rules/lifetime.js'
export { TinyLFUEvict } from './rules/tinylfu.js'
export type { TinyLFUEvictOptions } from './rules/tinylfu.js'
export type { LifeTimeEvictOptions } from './rules/lifetime.js'
export type { BoundOptions } from './rules/bounds.js'
export type { Fairness } from './rules/fairness.js'
export type { CacheRule, RuleEffect, RuleEvictEvent, RuleGetEvent, RuleSetEvent } from './rules/contract.js'
export type { CallTags, Memoizer, MemoizeOptions, MemoizedResult, ResultTtl } from './memoize/memoize.js'
export type {
  AsFunctionAnswers,
  CallMetadata,
  CallStatus,
  CallTier,
  MemoHandle,
  MemoizedFunction,
  MethodHandle,
  MethodKey,
} from './memoize/handle.js'
export type { Factory, FactoryContext, LoaderOptions } from './memoize/get-or-set.js'
export type { CacheCounters, CacheStats, EvictionCounts } from './stats.js'
export type {
  CacheEventListener,
  CacheEvents,
  EntryEvent,
  EvictEvent,
  EvictEventReason,
  ExpireEvent,
  OperationEvent,
  OperationOutcome,
  SetEvent,
  TimedOperation,
} from './events.js'
export type {
  Breakdown,
  NamespaceBucket,
  ScopeBucket,
  StatsBreakdown,
  StatsTrackingOptions,
} from './observability/scope-stats.js'
export type { BucketCounts } from './observability/top-k.js'
export type { LockOptions } from './memoize/resilience.js'
export type { MaxConcurrent } from './memoize/bulkhead.js'
export type { BusMessageInfo, BusResetInfo, LocalTierOptions } from './tiers/tiered-storage.js'
export type { CircuitBreakerOptions, CircuitCloseInfo, CircuitOpenInfo } from './tiers/circuit-breaker.js'
export {
  CacheClosedError,
  CacheError,
  ConfigurationError,
  InvalidArgumentError,
  ScopeError,
  SerializationError,
  StorageError,
  TimeoutError,
  RefreshError,
  RuleError,
  EntryTooLargeError,
  OverloadError,
} from './errors.js'
export type { CacheErrorCode, TimeoutDetails } from './errors.js'
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
