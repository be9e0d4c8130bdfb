import { Binary, BSON } from 'mongodb'
import { CacheError, InvalidArgumentError, SerializationError } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import type { EntryRef, WriteOptions } from '../contract.js'
import { encodeEntryRef } from '../key-encoding.js'
import { nextTick, scopeKeys } from './document.js'
import type { FencedWrite } from './fence.js'
import { MAX_DOCUMENT_BYTES, MAX_TTL_MS } from './options.js'
import { tagsOf } from './tags.js'

/** A checked and encoded write, ready to be sent (plain, fenced or in bulk). */
export type PreparedWrite = FencedWrite & { v: Binary }

/**
 * Checks and encodes a write (`encoded`: its bytes, when already made), throwing before anything is sent: `InvalidArgumentError` for a TTL the
 * MongoDB storage cannot keep, `SerializationError` for a value the serializer refuses (whatever it
 * throws, e.g. a RangeError for a too deeply nested value) or a document over 16 MiB.
 */
export function prepareWrite(
  serializer: Serializer,
  ref: EntryRef,
  value: unknown,
  ttlMs: number | undefined,
  options?: WriteOptions,
  encoded?: Uint8Array,
): PreparedWrite {
  const tags = tagsOf(options)
  if (ttlMs !== undefined && !(typeof ttlMs === 'number' && ttlMs > 0 && ttlMs <= MAX_TTL_MS)) {
    throw new InvalidArgumentError(
      `MongoDBStorage cannot store a TTL of ${String(ttlMs)} ms: it must be a positive number of milliseconds up to ${MAX_TTL_MS} (100 years); leave the TTL out for no expiry`,
    )
  }
  const id = encodeEntryRef(ref)
  const tick = nextTick()
  let bytes: Uint8Array
  try {
    // (`encoded`: the bytes an entry-bound serializer made already, see entry-codec.ts.)
    bytes = encoded ?? serializer.serialize(value)
  } catch (error) {
    if (error instanceof CacheError) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new SerializationError(
      `cannot serialize the value under ${JSON.stringify(ref.key)}: ${reason}; store plain data that is not nested too deeply`,
      { cause: error },
    )
  }
  const v = new Binary(bytes)
  const expiresAt = ttlMs === undefined ? null : new Date(Date.now() + ttlMs)
  const fields = { v, expiresAt, scopes: scopeKeys(ref.scope), accessedAt: tick, createdAt: tick, tags }
  const size = BSON.calculateObjectSize({ _id: id, ...fields })
  if (size > MAX_DOCUMENT_BYTES) {
    throw new SerializationError(
      `cannot store the value under ${JSON.stringify(ref.key)}: its document would be ${size} bytes, over MongoDB's limit of ${MAX_DOCUMENT_BYTES} bytes (16 MiB); store smaller values`,
    )
  }
  return { id, ref, v, b: bytes.byteLength, expiresAt, tick, tags }
}
