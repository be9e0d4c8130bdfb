import { canonicalArgs } from './canonical.js'

/**
 * Builds memoized-call keys (`prefix` + canonical arguments) and reuses the strings built for a single
 * number or string argument. A hit then looks up a string V8 has already flattened and hashed, instead
 * of concatenating and hashing a new one on every call (the main cost of a memoized hit).
 *
 * Invariant: `of(args)` always equals `prefix + canonicalArgs(args)`; the reuse is bounded (the maps are
 * dropped when they reach `capacity` entries), so it never holds more than `capacity` strings per function.
 */
export class ArgsKeyCache {
  readonly #prefix: string
  readonly #capacity: number
  #numbers = new Map<number, string>()
  #strings = new Map<string, string>()

  constructor(prefix: string, capacity = 4096) {
    this.#prefix = prefix
    this.#capacity = capacity
  }

  of(args: readonly unknown[]): string {
    if (args.length === 1) {
      const only = args[0]
      if (typeof only === 'number') {
        let key = this.#numbers.get(only) // Map keys: -0 is 0 and NaN is NaN, as in canonicalArgs
        if (key === undefined) {
          if (this.#numbers.size >= this.#capacity) this.#numbers = new Map()
          this.#numbers.set(only, (key = `${this.#prefix}[${only}]`))
        }
        return key
      }
      if (typeof only === 'string') {
        let key = this.#strings.get(only)
        if (key === undefined) {
          if (this.#strings.size >= this.#capacity) this.#strings = new Map()
          this.#strings.set(only, (key = `${this.#prefix}[${JSON.stringify(only)}]`))
        }
        return key
      }
    }
    return this.#prefix + canonicalArgs(args)
  }
}
