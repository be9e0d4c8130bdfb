import { canonicalArgs } from './canonical.js'

/**
 * Builds memoized-call keys (`prefix` + canonical arguments) and reuses the strings built for a single
 * number or string argument. A hit then looks up a string V8 has already flattened and hashed, instead
 * of converting, concatenating and hashing a new one on every call (the main cost of a memoized hit).
 *
 * Invariants: `of(args)` always equals `prefix + canonicalArgs(args)`. Reuse is bounded by two
 * generations of at most `generationSize` strings each: when the young generation is full it becomes
 * the old one and the previous old one is dropped; a string found in the old generation moves back to
 * the young one. So the hot arguments stay cached and memory stays at most 2 x `generationSize` strings
 * per memoized function. When most lookups of a generation miss (arguments that rarely repeat), reuse
 * pauses for four generations' worth of calls, so such functions pay little for it.
 *
 * What is kept per argument is `wrap(key)` (the key itself by default): a memoizer of the global scope
 * keeps its whole, immutable entry ref, so a hit allocates nothing.
 */
export class ArgsKeyCache<T = string> {
  readonly #prefix: string
  readonly #generationSize: number
  readonly #wrap: (key: string) => T
  #young = new Map<unknown, T>()
  #old = new Map<unknown, T>()
  #hits = 0
  #misses = 0
  /** Calls left during which strings are built without reuse. */
  #bypass = 0

  constructor(prefix: string, generationSize = 65_536, wrap?: (key: string) => T) {
    this.#prefix = prefix
    this.#generationSize = generationSize
    this.#wrap = wrap ?? ((key) => key as T)
  }

  #build(only: unknown, type: string): T {
    return this.#wrap(`${this.#prefix}[${type === 'number' ? String(only) : JSON.stringify(only)}]`)
  }

  /** `wrap(prefix + canonicalArgs(args))`, reused for a single number or string argument. */
  of(args: readonly unknown[]): T {
    if (args.length !== 1) return this.#wrap(this.#prefix + canonicalArgs(args))
    return this.ofOne(args[0])
  }

  /** {@link ArgsKeyCache.of} of the one argument `only` (a call with one argument, without its array). */
  ofOne(only: unknown): T {
    const type = typeof only
    if (type !== 'number' && type !== 'string') return this.#wrap(this.#prefix + canonicalArgs([only]))
    if (this.#bypass > 0) {
      this.#bypass--
      return this.#build(only, type)
    }
    // Map keys compare with SameValueZero: -0 is 0 and NaN is NaN, as in canonicalArgs; a number and a
    // string never meet, so 1 and '1' keep different keys.
    let key = this.#young.get(only)
    if (key !== undefined) {
      this.#hits++
      return key
    }
    key = this.#old.get(only)
    if (key !== undefined) this.#hits++
    else {
      this.#misses++
      key = this.#build(only, type)
    }
    if (this.#young.size >= this.#generationSize) {
      // Arguments that rarely repeat make the reuse cost more than it saves: pause it for a while.
      if (this.#misses > this.#hits) this.#bypass = 4 * this.#generationSize
      this.#hits = this.#misses = 0
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(only, key)
    return key
  }
}
