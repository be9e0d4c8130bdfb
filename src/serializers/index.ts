/** Serializers for shared backends. */
export type { Serializer, EntrySerializer, EntryAddress, Unreadable } from './contract.js'
export { UNREADABLE } from './contract.js'
export { MsgpackSerializer } from './msgpack.js'
export { JsonSerializer } from './json.js'
export { checkStorable } from './check.js'
export { SerializerPipeline } from './pipeline.js'
export type {
  CompressionOptions,
  EncryptionOptions,
  SerializerPipelineOptions,
  SerializerPipelineStats,
  UnreadableEvent,
  UnreadableReason,
} from './pipeline.js'
export type { CompressionAlgorithm } from './compress.js'
export type { KeyRequest, TenantKey, TenantKeyProvider } from './keys.js'
