import { InvalidArgumentError } from '../../errors.js'

/**
 * Size estimates of in-process values, for byte budgets (`maxBytes`) on the in-memory storage and the
 * local tier, where values are kept as references and have no serialized size.
 *
 * The estimate approximates V8's heap use, not a serialized length:
 * - a string: 2 bytes per UTF-16 code unit plus 16 (V8 keeps one-byte strings in 1 byte per char, so
 *   ASCII text is over-counted at most 2x, never under-counted);
 * - a number, boolean, `null`, `undefined`, symbol or function: 8; a bigint: 16;
 * - an `ArrayBuffer`, typed array, `DataView` or `Buffer`: its byte length plus 64;
 * - a `Date` or `RegExp`: 32; an array: 16 + 8 per slot + its elements; a `Map` or `Set`: 32 + 16 per
 *   element + keys and values; another object: 32 + per own enumerable string key, the key and its value.
 * - Cycles and shared references are counted once (a visited set); the walk stops after
 *   {@link ESTIMATE_NODE_CAP} values and counts nothing more, so an estimate is never slower than that
 *   (structures with more values are under-counted: give them a `sizeOf`).
 */
export const ESTIMATE_NODE_CAP = 100_000

/** Bytes of one string: 2 per UTF-16 code unit plus a 16-byte header. */
const stringSize = (s: string): number => 16 + 2 * s.length

/**
 * The estimated size in bytes of `value` (see the module comment for the rules): what byte budgets
 * count in memory when the bound has no `sizeOf`. Exported so that a `sizeOf` can build on it.
 */
export function estimateSize(value: unknown): number {
  if (typeof value === 'string') return stringSize(value)
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? 16 : 8
  let total = 0
  let visited = 0
  const seen = new Set<object>()
  const stack: unknown[] = [value]
  while (stack.length !== 0 && visited < ESTIMATE_NODE_CAP) {
    const v = stack.pop()
    visited++
    if (typeof v === 'string') {
      total += stringSize(v)
      continue
    }
    if (v === null || typeof v !== 'object') {
      total += typeof v === 'bigint' ? 16 : 8
      continue
    }
    if (seen.has(v)) continue
    seen.add(v)
    if (ArrayBuffer.isView(v)) total += 64 + v.byteLength
    else if (v instanceof ArrayBuffer) total += 64 + v.byteLength
    else if (v instanceof Date || v instanceof RegExp) total += 32
    else if (Array.isArray(v)) {
      total += 16 + 8 * v.length
      for (let i = 0; i < v.length; i++) stack.push(v[i])
    } else if (v instanceof Map) {
      total += 32 + 16 * v.size
      for (const [k, item] of v) stack.push(k, item)
    } else if (v instanceof Set) {
      total += 32 + 16 * v.size
      for (const item of v) stack.push(item)
    } else {
      total += 32
      for (const key of Object.keys(v)) {
        total += stringSize(key)
        stack.push((v as Record<string, unknown>)[key])
      }
    }
  }
  return total
}

/**
 * The size of `value` by the bound's `sizeOf` (or {@link estimateSize}), checked: an `InvalidArgumentError`
 * when `sizeOf` throws or answers something that is not a finite number >= 0 (the write fails, nothing
 * changes). Fractions round up.
 */
export function measure(value: unknown, sizeOf: ((value: unknown) => number) | undefined): number {
  if (sizeOf === undefined) return estimateSize(value)
  let size: unknown
  try {
    size = sizeOf(value)
  } catch (error) {
    throw new InvalidArgumentError(
      `sizeOf threw while measuring a value for maxBytes (${error instanceof Error ? error.message : String(error)}); the value was not stored`,
    )
  }
  if (typeof size !== 'number' || !Number.isFinite(size) || size < 0) {
    throw new InvalidArgumentError(
      `sizeOf must return a finite number of bytes >= 0, got ${String(size)}; the value was not stored`,
    )
  }
  return Math.ceil(size)
}
