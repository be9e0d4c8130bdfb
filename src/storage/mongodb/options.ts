import type { Collection, Document, MongoClient, MongoClientOptions } from 'mongodb'
import { ConfigurationError, storageTimeout, TimeoutError } from '../../errors.js'
import { MAX_TTL_SECONDS, timerMs } from '../../ttl.js'
import type { Serializer } from '../../serializers/contract.js'

/** Options of `new MongoDBStorage(...)`: give exactly one of `url`, `client` or `collection`. */
export interface MongoDBStorageOptions {
  /** Connection string, e.g. `'mongodb://127.0.0.1:27017'`; the storage creates and closes its client. */
  readonly url?: string
  /** A client you already have; the storage uses it and never closes it. */
  readonly client?: MongoClient
  /** A collection you already have; `dbName` and `collectionName` are then ignored. Never dropped or closed. */
  readonly collection?: Collection<Document>
  /** Database (with `url` or `client`). Default `'cacheado'`. */
  readonly dbName?: string
  /**
   * Collection (with `url` or `client`). Default `'cache'`. The collection belongs to this cache: give
   * each cache its own, since `clear()` empties it and bounds count every document in it.
   */
  readonly collectionName?: string
  /** How values become bytes. Default: a new {@link MsgpackSerializer}. */
  readonly serializer?: Serializer
  /**
   * Upper bound of one storage operation in milliseconds (server selection, connecting and the round
   * trips of the operation together, waiting behind earlier operations on the same key included). An
   * operation that takes longer rejects. Default 1000. The first operation also creates the missing
   * indexes; on a large existing collection that can take longer, and operations time out until the
   * index build (which goes on in the background) is done.
   */
  readonly operationTimeoutMs?: number
  /**
   * How often expired documents are deleted (and counted as `'expired'` evictions) when no rule asks
   * for a sweep interval. Default 60 000. Expired entries are never returned either way.
   */
  readonly sweepIntervalMs?: number
  /** Extra options for the client created from `url` (they override the timeouts derived above). */
  readonly clientOptions?: MongoClientOptions
}

/** The largest document a MongoDB server stores (`maxBsonObjectSize`). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
/**
 * The longest TTL this storage keeps, in milliseconds: 100 years, the library-wide maximum
 * (`MAX_TTL_SECONDS` in `src/ttl.ts`). Far longer ones would make
 * an expiry date outside BSON's and JavaScript's range, stored as a value that is never readable.
 */
export const MAX_TTL_MS = MAX_TTL_SECONDS * 1000

/**
 * An operation did not finish within `operationTimeoutMs`: the {@link TimeoutError} every storage
 * timeout is (this subclass is kept for `instanceof` checks written against earlier versions). As with
 * any timeout, a write that was already sent may still be applied by the server afterwards.
 */
export class MongoDBTimeoutError extends TimeoutError {
  constructor(operation: string, timeoutMs: number) {
    const { message } = storageTimeout('mongodb', operation, 'operationTimeoutMs', timeoutMs)
    super(`mongodb ${operation}`, timeoutMs, message, { storageType: 'mongodb' })
  }
}

/** Checks a duration option of `new MongoDBStorage(...)`: a positive number of milliseconds. */
export function positiveMs(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `MongoDBStorage: ${name} must be a positive number of milliseconds, got ${String(value)}`,
    )
  }
  return timerMs(value, `MongoDBStorage: ${name}`, `{ ${name}: 5000 }`)
}
