import { SerializationError } from '../errors.js'
import { checkStorable, setOwn } from './check.js'
import type { Serializer } from './contract.js'

/**
 * A JSON serializer that keeps types: values JSON cannot express are written as `{"$t": type, "v": ...}`
 * (Date, Map, Set, BigInt, Uint8Array, Buffer, undefined, NaN, ±Infinity, -0). A plain object that has
 * its own `$t` key is wrapped too, so user data can never be mistaken for a tag. Readable in
 * `redis-cli`; slower and larger than msgpack.
 */
export class JsonSerializer implements Serializer {
  readonly name = 'json'

  serialize(value: unknown): Uint8Array {
    checkStorable(value)
    return Buffer.from(JSON.stringify(encode(value)), 'utf8')
  }

  deserialize(bytes: Uint8Array): unknown {
    let tree: unknown
    try {
      tree = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
    } catch (error) {
      throw new SerializationError(`stored bytes are not valid JSON: ${(error as Error).message}`, {
        cause: error,
      })
    }
    return decode(tree)
  }
}

type Tagged = { $t: string; v?: unknown }

function encode(value: unknown): unknown {
  switch (typeof value) {
    case 'undefined':
      return { $t: 'undefined' }
    case 'bigint':
      return { $t: 'BigInt', v: value.toString() }
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
        ? value
        : { $t: 'Number', v: String(Object.is(value, -0) ? '-0' : value) }
    case 'object':
      break
    default:
      return value
  }
  if (value === null) return null
  if (Array.isArray(value)) return value.map(encode)
  if (value instanceof Date) return { $t: 'Date', v: value.getTime() }
  if (value instanceof Map) return { $t: 'Map', v: [...value].map(([k, v]) => [encode(k), encode(v)]) }
  if (value instanceof Set) return { $t: 'Set', v: [...value].map(encode) }
  if (value instanceof Uint8Array) {
    const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    return { $t: Buffer.isBuffer(value) ? 'Buffer' : 'Bytes', v: base64 }
  }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) setOwn(out, key, encode((value as Record<string, unknown>)[key]))
  return Object.prototype.hasOwnProperty.call(value, '$t') ? { $t: 'Object', v: out } : out
}

function decode(tree: unknown): unknown {
  if (tree === null || typeof tree !== 'object') return tree
  if (Array.isArray(tree)) return tree.map(decode)
  const record = tree as Record<string, unknown>
  if (typeof record.$t === 'string') return decodeTagged(record as Tagged)
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record)) setOwn(out, key, decode(record[key]))
  return out
}

function decodeTagged({ $t, v }: Tagged): unknown {
  switch ($t) {
    case 'undefined':
      return undefined
    case 'BigInt':
      return BigInt(v as string)
    case 'Number':
      return v === '-0' ? -0 : Number(v)
    case 'Date':
      return new Date(v as number)
    case 'Map':
      return new Map((v as [unknown, unknown][]).map(([k, val]) => [decode(k), decode(val)]))
    case 'Set':
      return new Set((v as unknown[]).map(decode))
    case 'Bytes':
      return new Uint8Array(Buffer.from(v as string, 'base64'))
    case 'Buffer':
      return Buffer.from(v as string, 'base64')
    case 'Object': {
      const out: Record<string, unknown> = {}
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) setOwn(out, key, decode(item))
      return out
    }
    default:
      throw new SerializationError(`stored JSON has an unknown type tag ${JSON.stringify($t)}`)
  }
}
