import type { ScopeConfig } from '../scopes/scope-config.js'
import type { EntryLocks, EntryRef, WriteFence } from '../storage/contract.js'
import type { SingleFlight } from './single-flight.js'

/**
 * What a memoizer needs from its cache. The cache implements it privately, so `memoize/` never imports
 * the facade (imports run facade -> memoize, never back).
 */
export interface MemoHost {
  readonly scopes: ScopeConfig
  /** True when the storage answers synchronously (memoized sync functions then stay sync). */
  readonly isSync: boolean
  readonly flights: SingleFlight
  /** Default TTL in milliseconds for memoized entries without their own. */
  readonly defaultTtlMs: number | undefined
  /** Reads through stats and rules; storage errors are reported and read as a miss (fail-open). */
  readSync(ref: EntryRef): unknown
  writeSync(ref: EntryRef, value: unknown, ttlMs: number | undefined): void
  read(ref: EntryRef): Promise<unknown>
  write(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void>
  /**
   * The storage's `fence` (of the tiers in front of it, if any), present when the storage has both
   * `fence` and `setFenced`: a computed result is then written through {@link MemoHost.writeFenced}
   * with a fence taken before the computation, so that an eviction made meanwhile by any process
   * sharing the storage is never undone. Absent over a synchronous storage (one process: invalidating
   * running flights when an eviction starts suffices). May reject (a storage failure).
   */
  readonly fence: ((ref: EntryRef) => Promise<WriteFence>) | undefined
  /**
   * {@link MemoHost.write} through the storage's `setFenced`: stores only if no eviction covering `ref`
   * was applied since `fence` was taken. A refused write is not an error (nothing is counted or reported).
   */
  writeFenced(ref: EntryRef, value: unknown, ttlMs: number | undefined, fence: WriteFence): Promise<void>
  /** The storage's `storageType`, for error messages. */
  readonly storageType: string
  /** The storage's cross-process locks, if it has them. */
  readonly locks: EntryLocks | undefined
  /**
   * Reads the storage without counting a hit or miss and without rules (a lock waiter polling for
   * another process's result); a storage error is reported and reads as a miss.
   */
  peek(ref: EntryRef): Promise<unknown>
  /** Emits an `error` event (a non-`CacheError` is wrapped in a `StorageError` for `operation`). */
  report(operation: string, error: unknown): void
  /** Reserves a namespace; throws a `ConfigurationError` if this cache already has it. */
  claimNamespace(namespace: string): void
  /** Throws a `CacheClosedError` after `close()`. */
  checkOpen(operation: string): void
}
