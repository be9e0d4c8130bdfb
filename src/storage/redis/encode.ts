import { SerializationError } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'

/**
 * The bytes of `value` as the Redis storage stores them, checked before anything is sent: a
 * `SerializationError` when the serializer fails (whatever it throws) or the bytes exceed
 * `maxValueBytes`.
 */
export function encodeValue(serializer: Serializer, maxValueBytes: number, value: unknown): Buffer {
  let bytes: Uint8Array
  try {
    bytes = serializer.serialize(value)
  } catch (error) {
    if (error instanceof SerializationError) throw error
    throw new SerializationError(`the ${serializer.name} serializer failed: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return checkValueBytes(maxValueBytes, bytes)
}

/** `bytes` as a Buffer, or a `SerializationError` when they exceed `maxValueBytes`. */
export function checkValueBytes(maxValueBytes: number, bytes: Uint8Array): Buffer {
  if (bytes.byteLength > maxValueBytes) {
    throw new SerializationError(
      `the serialized value has ${bytes.byteLength} bytes, more than maxValueBytes (${maxValueBytes}); store less or raise maxValueBytes`,
    )
  }
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
