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

/**
 * The entry a value belongs to, as an entry-bound serializer sees it: the storage's `EntryRef` (scope
 * path from the top-level scope down, and the key inside that scope). `scope[0]` is the top-level
 * tenant (e.g. the organization); `[]` is the global root.
 */
export interface EntryAddress {
  /** The entry's scope path, top-level scope first. */
  readonly scope: readonly { readonly level: string; readonly id: string }[]
  /** The entry's key inside its scope. */
  readonly key: string
}

/**
 * Returned (or resolved) by {@link Serializer.deserializeEntry} for stored bytes that cannot be read
 * any more (their tenant's key is gone, or they were tampered with): the storage reports a miss.
 */
export const UNREADABLE: unique symbol = Symbol('cacheado.unreadable')
/** Type of {@link UNREADABLE}. */
export type Unreadable = typeof UNREADABLE

/**
 * Optional side of a {@link Serializer} whose bytes depend on the entry they belong to (per-tenant
 * encryption binds ciphertext to its tenant and key). The shared storages (Redis, MongoDB) call these
 * instead of `serialize`/`deserialize` when both are present. Either may answer synchronously or with
 * a Promise (a key provider may be asynchronous); a write of one tenant never overtakes an earlier one
 * of the same tenant.
 */
export interface EntrySerializer {
  /** Encodes `value` for `entry`; throws (or rejects with) a `CacheError` when it cannot be stored. */
  serializeEntry(value: unknown, entry: EntryAddress): Uint8Array | Promise<Uint8Array>
  /**
   * Decodes bytes stored under `entry`: the value, or {@link UNREADABLE} when they cannot be read (never
   * a rejection for unreadable bytes).
   */
  deserializeEntry(bytes: Uint8Array, entry: EntryAddress): unknown
}
