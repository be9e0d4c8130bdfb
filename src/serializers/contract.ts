/**
 * How shared backends turn values into bytes and back. Values must round-trip with their types:
 * Date, Map, Set, BigInt, Uint8Array/Buffer, nested objects and `undefined` inside objects.
 */
export interface Serializer {
  /** Short name, e.g. `'msgpack'`, `'json'`. */
  readonly name: string
  /** Encodes a value; throws a `SerializationError` for a value that cannot be stored. */
  serialize(value: unknown): Uint8Array
  /** Decodes bytes written by {@link Serializer.serialize}; throws a `SerializationError` on bad bytes. */
  deserialize(bytes: Uint8Array): unknown
}
