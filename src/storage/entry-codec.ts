import { CacheError, SerializationError } from '../errors.js'
import type { EntrySerializer, Serializer } from '../serializers/contract.js'
import { UNREADABLE } from '../serializers/contract.js'
import type { EntryRef, Miss, StoredEntry } from './contract.js'
import { MISS } from './contract.js'

/**
 * How the shared storages use an entry-bound serializer (`EntrySerializer`, e.g. the per-tenant
 * encrypting `SerializerPipeline`): a serializer with both `serializeEntry` and `deserializeEntry`
 * is given each value's entry, and may answer with a Promise. Plain serializers keep the storages'
 * synchronous paths untouched.
 */

/** A serializer with its entry-bound side. */
export type EntryBoundSerializer = Serializer & EntrySerializer

/** `serializer` when it is entry-bound (has both entry methods), or `undefined` for a plain serializer. */
export function entrySerializerOf(serializer: Serializer): EntryBoundSerializer | undefined {
  const candidate = serializer as Serializer & Partial<EntrySerializer>
  return typeof candidate.serializeEntry === 'function' && typeof candidate.deserializeEntry === 'function'
    ? (candidate as EntryBoundSerializer)
    : undefined
}

/**
 * The value stored as `bytes` under `ref`, `MISS` when the serializer found it unreadable, or a
 * Promise of either. Never throws for unreadable bytes (the serializer reports them).
 */
export function decodeEntry(serializer: EntrySerializer, bytes: Uint8Array, ref: EntryRef): unknown {
  const value = serializer.deserializeEntry(bytes, ref)
  if (value instanceof Promise) return value.then(missIfUnreadable)
  return value === UNREADABLE ? MISS : value
}

const missIfUnreadable = (value: unknown): unknown => (value === UNREADABLE ? MISS : value)

/**
 * The bytes of `value` for `ref`, synchronously or as a Promise; a failure of the serializer (thrown
 * or rejected) becomes a `SerializationError` unless it is already a `CacheError`.
 */
export function encodeEntry(
  serializer: EntryBoundSerializer,
  value: unknown,
  ref: EntryRef,
): Uint8Array | Promise<Uint8Array> {
  const fail = (error: unknown): never => {
    if (error instanceof CacheError) throw error
    throw new SerializationError(
      `the ${serializer.name} serializer failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
  try {
    const bytes = serializer.serializeEntry(value, ref)
    return bytes instanceof Promise ? bytes.catch(fail) : bytes
  } catch (error) {
    return fail(error)
  }
}

/**
 * Entries whose values an entry-bound serializer may still be decoding (a Promise) or found
 * unreadable (`MISS`), settled: a value that turned out unreadable makes its entry a `MISS`.
 */
export function settleEntries(entries: readonly (StoredEntry | Miss)[]): Promise<(StoredEntry | Miss)[]> {
  return Promise.all(entries.map(settle))
}

async function settle(entry: StoredEntry | Miss): Promise<StoredEntry | Miss> {
  if (entry === MISS) return MISS
  const value: unknown = await entry.value
  return value === MISS ? MISS : { value, expiresAt: entry.expiresAt }
}

/** Whether `value` is a Promise (an entry-bound serializer's asynchronous answer). */
export const isPending = (value: unknown): value is Promise<unknown> => value instanceof Promise
