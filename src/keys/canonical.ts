import { InvalidArgumentError } from '../errors.js'

/**
 * Canonical, type-aware encoding of memoized-call arguments.
 *
 * Invariants:
 * - deterministic across processes and machines (no hashing with per-process salt, no object identity);
 * - injective over supported values: `1`, `'1'`, `1n` and `true` differ, `-0` equals `0`;
 * - plain-object key order does not matter; properties whose value is `undefined` are left out, as
 *   `JSON.stringify` does, so `{ a: 1, b: undefined }` and `{ a: 1 }` are the same argument;
 * - anything that has no stable value (functions, symbols, class instances, cycles) is refused with an
 *   {@link InvalidArgumentError} naming where it was found.
 *
 * Supported: `undefined`, `null`, booleans, numbers (NaN and infinities included), bigints, strings,
 * arrays, plain objects, `Date`, `Map`, `Set`, `Uint8Array` (and `Buffer`), `URL`.
 */
export function canonicalArgs(args: readonly unknown[]): string {
  return encode(args, 'args', [])
}

function encode(value: unknown, where: string, stack: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Object.is(value, -0) ? '0' : String(value)
    case 'boolean':
      return value ? 't' : 'f'
    case 'undefined':
      return 'u'
    case 'bigint':
      return `${value}n`
    case 'object':
      return value === null ? 'n' : encodeObject(value, where, stack)
    default:
      throw new InvalidArgumentError(
        `cannot build a cache key from ${where}: a ${typeof value} has no stable value; pass a \`key\` option that derives the key from the arguments`,
      )
  }
}

function encodeObject(value: object, where: string, stack: object[]): string {
  if (stack.includes(value)) {
    throw new InvalidArgumentError(
      `cannot build a cache key from ${where}: it contains a cycle; pass a \`key\` option that derives the key from the arguments`,
    )
  }
  stack.push(value)
  try {
    if (Array.isArray(value)) {
      return `[${value.map((item, i) => encode(item, `${where}[${i}]`, stack)).join(',')}]`
    }
    if (value instanceof Date) {
      const time = value.getTime()
      return `D${Number.isNaN(time) ? 'NaN' : time}`
    }
    if (value instanceof Uint8Array)
      return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`
    if (value instanceof URL) return `U${JSON.stringify(value.href)}`
    if (value instanceof Map) {
      const entries = [...value].map(
        ([k, v], i) =>
          `${encode(k, `${where}<key ${i}>`, stack)}:${encode(v, `${where}<value ${i}>`, stack)}`,
      )
      return `M{${entries.sort().join(',')}}`
    }
    if (value instanceof Set) {
      const items = [...value].map((item, i) => encode(item, `${where}<item ${i}>`, stack))
      return `S{${items.sort().join(',')}}`
    }
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown class'
      throw new InvalidArgumentError(
        `cannot build a cache key from ${where}: instances of ${name} are not supported (only plain objects, arrays, Date, Map, Set, Uint8Array, URL); pass a \`key\` option that derives the key from the arguments`,
      )
    }
    const record = value as Record<string, unknown>
    const parts: string[] = []
    for (const name of Object.keys(record).sort()) {
      const item = record[name]
      if (item !== undefined) parts.push(`${JSON.stringify(name)}:${encode(item, `${where}.${name}`, stack)}`)
    }
    return `{${parts.join(',')}}`
  } finally {
    stack.pop()
  }
}
