import { addExtension, Packr } from 'msgpackr'
import { SerializationError } from '../errors.js'
import { checkStorable, setOwn } from './check.js'
import type { Serializer } from './contract.js'

/**
 * Stand-ins for what msgpack cannot say by itself. msgpackr writes a `Map` as a msgpack map, which reads
 * back as a plain object, and `-0` as the integer 0; before packing, such values are swapped for these
 * classes, which have extensions of their own. The swap copies only the containers on the way to a
 * swapped value; everything else is packed as it is.
 */
class PackedMap {
  constructor(readonly entries: [unknown, unknown][]) {}
}
class NegativeZero {}
/** A plain object with an own `__proto__` key, which msgpackr renames when reading (a safety measure). */
class PackedObject {
  constructor(readonly entries: [string, unknown][]) {}
}

const MAP_EXTENSION = 0x4d
const NEGATIVE_ZERO_EXTENSION = 0x5a
const OBJECT_EXTENSION = 0x4f
let extensionsAdded = false

function addExtensions(): void {
  if (extensionsAdded) return
  addExtension({
    Class: PackedMap,
    type: MAP_EXTENSION,
    write: (map: PackedMap) => map.entries,
    read: (entries: [unknown, unknown][]) => new Map(entries),
  })
  addExtension({
    Class: NegativeZero,
    type: NEGATIVE_ZERO_EXTENSION,
    pack: () => Buffer.alloc(0),
    unpack: () => -0,
  })
  addExtension({
    Class: PackedObject,
    type: OBJECT_EXTENSION,
    write: (object: PackedObject) => object.entries,
    read: (entries: [string, unknown][]) => {
      const object: Record<string, unknown> = {}
      for (const [key, value] of entries) setOwn(object, key, value)
      return object
    },
  })
  extensionsAdded = true
}

/**
 * The default serializer for shared backends: MessagePack through msgpackr, with Date, Set, BigInt,
 * typed arrays and Buffers native, and `Map`, `-0` and objects with a `__proto__` key as extensions. Compact and fast.
 */
export class MsgpackSerializer implements Serializer {
  readonly name = 'msgpack'
  readonly #packr: Packr

  constructor() {
    addExtensions()
    this.#packr = new Packr({ moreTypes: true, useRecords: false })
  }

  serialize(value: unknown): Uint8Array {
    checkStorable(value)
    try {
      return this.#packr.pack(swap(value))
    } catch (error) {
      throw new SerializationError(`cannot serialize the value with msgpack: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  deserialize(bytes: Uint8Array): unknown {
    // msgpack never starts a value with 0xC1 (a reserved byte; msgpackr would decode it as a marker
    // object): refused, so that a damaged pipeline frame (`frame.ts`) is never read as a value.
    if (bytes[0] === 0xc1)
      throw new SerializationError('stored bytes are not valid msgpack: they start with 0xC1')
    try {
      return this.#packr.unpack(bytes)
    } catch (error) {
      throw new SerializationError(`stored bytes are not valid msgpack: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }
}

/** Returns `value` with Maps and -0 swapped for their stand-ins; unchanged parts keep their identity. */
function swap(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? new NegativeZero() : value
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date)
    return value
  if (value instanceof Map) return new PackedMap([...value].map(([k, v]) => [swap(k), swap(v)]))
  if (value instanceof Set) {
    const items = [...value]
    const swapped = items.map(swap)
    return swapped.some((item, i) => item !== items[i]) ? new Set(swapped) : value
  }
  if (Array.isArray(value)) {
    const swapped = value.map(swap)
    return swapped.some((item, i) => item !== value[i]) ? swapped : value
  }
  // Plain objects, null-prototype ones included (they are packed as plain maps too and read back as
  // plain objects, so what they contain needs the same swaps).
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  const record = value as Record<string, unknown>
  if (Object.prototype.hasOwnProperty.call(record, '__proto__')) {
    return new PackedObject(Object.keys(record).map((key) => [key, swap(record[key])]))
  }
  let copy: Record<string, unknown> | undefined
  for (const key of Object.keys(record)) {
    const item = record[key]
    const swapped = swap(item)
    if (swapped !== item) setOwn((copy ??= { ...record }), key, swapped)
  }
  return copy ?? value
}
