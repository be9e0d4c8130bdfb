import { addExtension, Packr } from 'msgpackr'
import { SerializationError } from '../errors.js'
import { checkStorable } from './check.js'
import type { Serializer } from './contract.js'

/** msgpack extension type for `Map` (msgpackr's own maps decode as plain objects). */
const MAP_EXTENSION = 0x4d
let mapExtensionAdded = false

/**
 * The default serializer for shared backends: MessagePack through msgpackr, with Date, Set, BigInt,
 * typed arrays and Buffers native, and `Map` as an extension. Compact and fast.
 */
export class MsgpackSerializer implements Serializer {
  readonly name = 'msgpack'
  readonly #packr: Packr

  constructor() {
    if (!mapExtensionAdded) {
      addExtension({
        Class: Map,
        type: MAP_EXTENSION,
        write: (map: Map<unknown, unknown>) => [...map],
        read: (entries: [unknown, unknown][]) => new Map(entries),
      })
      mapExtensionAdded = true
    }
    this.#packr = new Packr({ moreTypes: true, useRecords: false })
  }

  serialize(value: unknown): Uint8Array {
    checkStorable(value)
    try {
      return this.#packr.pack(value)
    } catch (error) {
      throw new SerializationError(`cannot serialize the value with msgpack: ${(error as Error).message}`, { cause: error })
    }
  }

  deserialize(bytes: Uint8Array): unknown {
    try {
      return this.#packr.unpack(bytes)
    } catch (error) {
      throw new SerializationError(`stored bytes are not valid msgpack: ${(error as Error).message}`, { cause: error })
    }
  }
}
