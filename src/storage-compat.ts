/**
 * The provider-author names that `cacheado` exported before `cacheado/storage` existed, kept for now
 * so that existing imports compile. Each is the same value or type as in `cacheado/storage`, marked
 * `@deprecated` here only (the originals are not deprecated).
 */
import * as contract from './storage/contract.js'
import * as encoding from './storage/key-encoding.js'

/**
 * Marker returned by `get` for a miss.
 * @deprecated import from `cacheado/storage`
 */
export const MISS: typeof contract.MISS = contract.MISS
/**
 * Type of {@link MISS}.
 * @deprecated import from `cacheado/storage`
 */
export type Miss = contract.Miss
/**
 * What a `Cache` hands to its storage once, before any other call.
 * @deprecated import from `cacheado/storage`
 */
export type StorageContext = contract.StorageContext
/**
 * The synchronous side of a storage that can answer without I/O.
 * @deprecated import from `cacheado/storage`
 */
export type SyncStorageOperations = contract.SyncStorageOperations
/**
 * An opaque snapshot a provider compares at write time (write fences).
 * @deprecated import from `cacheado/storage`
 */
export type WriteFence = contract.WriteFence
/**
 * An entry with its remaining lifetime, as `getWithExpiry` answers.
 * @deprecated import from `cacheado/storage`
 */
export type StoredEntry = contract.StoredEntry
/**
 * A message on the invalidation bus.
 * @deprecated import from `cacheado/storage`
 */
export type BusMessage = contract.BusMessage
/**
 * What a bus subscriber is called with.
 * @deprecated import from `cacheado/storage`
 */
export type BusHandlers = contract.BusHandlers
/**
 * A held cross-process entry lock.
 * @deprecated import from `cacheado/storage`
 */
export type LockHandle = contract.LockHandle
/**
 * Cross-process entry locks of a provider.
 * @deprecated import from `cacheado/storage`
 */
export type EntryLocks = contract.EntryLocks
/**
 * Encoding of an entry ref: its path, `|`, then the key.
 * @deprecated import from `cacheado/storage`
 */
export const encodeEntryRef: typeof encoding.encodeEntryRef = encoding.encodeEntryRef
/**
 * Encoding of a scope path; `''` for the global root.
 * @deprecated import from `cacheado/storage`
 */
export const encodeScopePath: typeof encoding.encodeScopePath = encoding.encodeScopePath
/**
 * Encoding of one segment, `level=id/`.
 * @deprecated import from `cacheado/storage`
 */
export const encodeSegment: typeof encoding.encodeSegment = encoding.encodeSegment
/**
 * Escapes the characters that structure an encoded path.
 * @deprecated import from `cacheado/storage`
 */
export const escapeComponent: typeof encoding.escapeComponent = encoding.escapeComponent
