import type { Serializer } from '../../serializers/contract.js'
import type { EntryRef } from '../contract.js'
import { decodeEntry, encodeEntry, entrySerializerOf } from '../entry-codec.js'
import type { EntryBoundSerializer } from '../entry-codec.js'
import { checkValueBytes, encodeValue } from './encode.js'

/**
 * The Redis storage's values as bytes and back: the serializer alone, or its entry-bound side
 * (per-tenant encryption, see `entry-codec.ts`) when it has one; encoded values are checked against
 * `maxValueBytes` before anything is sent (`encode.ts`).
 */
export class RedisValueCodec {
  /** The serializer's entry-bound side, when it has one. */
  readonly entry: EntryBoundSerializer | undefined

  constructor(
    readonly serializer: Serializer,
    readonly maxValueBytes: number,
  ) {
    this.entry = entrySerializerOf(serializer)
  }

  /** The value of stored bytes: `MISS` (or a Promise) only with an entry-bound serializer. */
  decode(bytes: Buffer, ref: EntryRef): unknown {
    return this.entry === undefined ? this.serializer.deserialize(bytes) : decodeEntry(this.entry, bytes, ref)
  }

  /** The bytes of `value` for `ref`, checked; a Promise only with an asynchronous entry-bound serializer. */
  encode(ref: EntryRef, value: unknown): Buffer | Promise<Buffer> {
    if (this.entry === undefined) return this.encodePlain(value)
    const bytes = encodeEntry(this.entry, value, ref)
    const check = (b: Uint8Array) => checkValueBytes(this.maxValueBytes, b)
    return bytes instanceof Promise ? bytes.then(check) : check(bytes)
  }

  /** The bytes of `value` through the serializer alone, checked. */
  encodePlain(value: unknown): Buffer {
    return encodeValue(this.serializer, this.maxValueBytes, value)
  }
}
