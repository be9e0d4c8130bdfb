import { SerializationError } from '../errors.js'

/**
 * Refuses, before anything is written, values that would not come back as they went in: functions,
 * symbols, promises, weak collections and cycles. The error names the path of the offending part.
 */
export function checkStorable(value: unknown): void {
  walk(value, 'value', new Set())
}

function walk(value: unknown, where: string, seen: Set<object>): void {
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new SerializationError(
      `cannot store ${where}: a ${typeof value} cannot be serialized; cache plain data instead`,
    )
  }
  if (value === null || typeof value !== 'object') return
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    throw new SerializationError(
      `cannot store ${where}: a ${value.constructor.name} cannot be serialized${value instanceof Promise ? '; await it first' : ''}`,
    )
  }
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return
  if (seen.has(value)) throw new SerializationError(`cannot store ${where}: it contains a cycle`)
  seen.add(value)
  if (value instanceof Map) {
    let i = 0
    for (const [k, v] of value) {
      walk(k, `${where}<key ${i}>`, seen)
      walk(v, `${where}<value ${i++}>`, seen)
    }
  } else if (value instanceof Set) {
    let i = 0
    for (const item of value) walk(item, `${where}<item ${i++}>`, seen)
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${where}[${i}]`, seen))
  } else {
    for (const key of Object.keys(value))
      walk((value as Record<string, unknown>)[key], `${where}.${key}`, seen)
  }
  seen.delete(value)
}

/** Sets an own enumerable property, even for the key `__proto__` (plain assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}
