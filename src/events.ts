import type { CacheError } from './errors.js'
import type { CircuitCloseInfo, CircuitOpenInfo } from './tiers/circuit-breaker.js'
import type { BusMessageInfo, BusResetInfo } from './tiers/tiered-storage.js'

/** Events a `Cache` emits, with their listener arguments. */
export interface CacheEvents {
  /**
   * A storage error that the cache absorbed instead of throwing (a memoized call fell back to calling
   * the function), or an error raised by a custom rule hook.
   */
  error: [error: CacheError, context: { readonly operation: string }]

  // Two tiers (the `local` option): coherence and the circuit breaker.
  /** Another process's invalidation arrived on the bus and was applied to the local tier. */
  busMessage: [info: BusMessageInfo]
  /** Every local copy was dropped because bus messages may have been lost (bus (re)subscribed, circuit closed). */
  busReset: [info: BusResetInfo]
  /** The shared storage failed repeatedly: it is not called for a while (local copies still served). */
  circuitOpen: [info: CircuitOpenInfo]
  /** A probe of the shared storage succeeded: calls go through again. */
  circuitClose: [info: CircuitCloseInfo]
}

type Listener<E extends keyof CacheEvents> = (...args: CacheEvents[E]) => void

/**
 * A minimal typed emitter. Unlike Node's EventEmitter, an `error` with no listener is dropped rather
 * than thrown, so a backend failure can never crash the host; emitting with no listener costs one check.
 */
export class CacheEventEmitter {
  readonly #listeners: { [E in keyof CacheEvents]?: Listener<E>[] } = {}

  /** Adds a listener. */
  on<E extends keyof CacheEvents>(event: E, listener: Listener<E>): this {
    ;((this.#listeners[event] ??= []) as Listener<E>[]).push(listener)
    return this
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof CacheEvents>(event: E, listener: Listener<E>): this {
    const list = this.#listeners[event] as Listener<E>[] | undefined
    const i = list?.indexOf(listener) ?? -1
    if (i >= 0) list!.splice(i, 1)
    return this
  }

  /** Calls each listener; a throwing listener does not stop the others or the cache. */
  protected emit<E extends keyof CacheEvents>(event: E, ...args: CacheEvents[E]): void {
    const list = this.#listeners[event] as Listener<E>[] | undefined
    if (list === undefined) return
    for (const listener of [...list]) {
      try {
        listener(...args)
      } catch {
        // A listener's own failure must not break the cache operation that emitted the event.
      }
    }
  }
}
