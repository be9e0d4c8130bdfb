/**
 * What the local tier (L1) keeps for a value, so that what a read returns stays what the shared
 * storage holds: a caller mutating an object after `set()` or after `get()` must not change what later
 * reads in this process return (Redis and the other processes keep the original).
 *
 * Chosen by measurement (bench/tiered.ts value, an object of 4 fields with a Date; Node 20): a
 * `structuredClone` per hit costs ~4.5 µs, a msgpack decode per hit ~1.2 µs, against ~0.3 µs for the
 * whole L1 hit. So L1 keeps DEEP-FROZEN values, which a hit returns as they are (no cost per hit):
 * - plain objects and arrays are frozen, recursively;
 * - a `Date` becomes a {@link FrozenDate} (still `instanceof Date`; its setters throw);
 * - values holding binary data (typed arrays, `Buffer`, `ArrayBuffer`, `DataView`), a `Map` or a
 *   `Set`, whose contents cannot be frozen, are kept as a {@link CopyPerHit}: each hit returns a fresh
 *   structured clone;
 * - primitives are kept as they are.
 * A write's value is cloned first (the caller keeps its own object, mutable); a value read from the
 * shared storage (freshly decoded) is frozen in place, and returned frozen to that first reader too.
 */

/** A value L1 hands out as a fresh structured clone per hit (it holds binary data). */
export class CopyPerHit {
  constructor(readonly value: unknown) {}

  /** A fresh copy for one reader. */
  copy(): unknown {
    return structuredClone(this.value)
  }
}

const refuse = (what: string) => (): never => {
  throw new TypeError(
    `cannot modify a cached ${what}: values from a local tier are read-only (copy it first)`,
  )
}

/** A read-only `Date` (a cached value's): its setters throw a `TypeError`. */
export class FrozenDate extends Date {}
for (const name of Object.getOwnPropertyNames(Date.prototype)) {
  if (name.startsWith('set')) {
    Object.defineProperty(FrozenDate.prototype, name, { value: refuse('Date'), writable: false })
  }
}

/** {@link localCopy}'s answer when L1 cannot keep a copy of a value. */
export const NO_COPY: unique symbol = Symbol('cacheado.noLocalCopy')

/** Marks a value that cannot be frozen (binary data): the whole value is then copied per hit. */
const UNFREEZABLE = Symbol('unfreezable')

/**
 * What L1 keeps for `value`, and what the reader of a shared-storage read gets: `{ kept, returned }`.
 * `owned`: the value was just decoded and nobody else holds it (it may be frozen in place); otherwise
 * (a caller's value being written) it is cloned first. `kept` is {@link NO_COPY} when no copy can be
 * kept (a value structured clone refuses): L1 then keeps nothing and reads go to the shared storage.
 */
export function localCopy(value: unknown, owned: boolean): { kept: unknown; returned: unknown } {
  if (value === null || typeof value !== 'object') return { kept: value, returned: value }
  let own: unknown
  try {
    own = owned ? value : structuredClone(value)
  } catch {
    return { kept: NO_COPY, returned: value }
  }
  const frozen = freeze(own, new Map())
  if (frozen === UNFREEZABLE) {
    // `own` may be half frozen by now: keep a clean clone of the original instead.
    try {
      return { kept: new CopyPerHit(structuredClone(value)), returned: value }
    } catch {
      return { kept: NO_COPY, returned: value }
    }
  }
  return { kept: frozen, returned: owned ? frozen : value }
}

/** Freezes `value` deeply; returns it (or its frozen replacement), or {@link UNFREEZABLE}. */
function freeze(value: unknown, seen: Map<object, unknown>): unknown {
  if (value === null || typeof value !== 'object') return value
  // A value met again (shared twice in one tree) gets the same replacement.
  if (seen.has(value)) return seen.get(value)
  const frozen = freezeNew(value, seen)
  seen.set(value, frozen)
  return frozen
}

function freezeNew(value: object, seen: Map<object, unknown>): unknown {
  seen.set(value, value) // a cycle (refused by the serializers anyway) ends here
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    return UNFREEZABLE
  }
  if (value instanceof Date) return Object.freeze(new FrozenDate(value.getTime()))
  // A Map's or Set's contents cannot be frozen without a class of our own, which deep-equality
  // checks (a constructor comparison) would tell apart: rare in cached values, copied per hit.
  if (value instanceof Map || value instanceof Set) return UNFREEZABLE
  const record = value as Record<string | symbol, unknown>
  for (const key of Reflect.ownKeys(record)) {
    const descriptor = Object.getOwnPropertyDescriptor(record, key)
    if (descriptor === undefined || !('value' in descriptor)) continue
    const inner = descriptor.value as unknown
    if (inner === null || typeof inner !== 'object') continue
    const frozen = freeze(inner, seen)
    if (frozen === UNFREEZABLE) return UNFREEZABLE
    if (frozen !== inner) {
      if (!descriptor.writable && !descriptor.configurable) return UNFREEZABLE
      Object.defineProperty(record, key, { ...descriptor, value: frozen })
    }
  }
  return Object.freeze(value)
}
