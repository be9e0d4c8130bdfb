import type { CacheError } from './errors.js'
import type { EvictionReason, ScopePath } from './storage/contract.js'
import type { CircuitCloseInfo, CircuitOpenInfo } from './tiers/circuit-breaker.js'
import type { BusMessageInfo, BusResetInfo } from './tiers/tiered-storage.js'

/**
 * Which entry an event is about, as the user knows it: its scope path (`[]` for global, else
 * `[{ level: 'organization', id: 'acme' }, ...]`), and either the key given to `get`/`set`/`evict` or
 * the namespace of the memoized function that owns the entry.
 */
export interface EntryEvent {
  /** The entry's scope path (`[]` for the global scope). */
  readonly scope: ScopePath
  /** The key of a direct entry (`cache.set('settings', ...)` -> `'settings'`); `undefined` for memoized ones. */
  readonly key: string | undefined
  /** The memoized function's namespace; `undefined` for direct entries. */
  readonly namespace: string | undefined
}

/** Payload of `set`. */
export interface SetEvent extends EntryEvent {
  /** The entry's time to live in milliseconds; `undefined` for none. */
  readonly ttlMs: number | undefined
}

/** Why an entry was removed, for `evict` events; expiries have their own `expire` event. */
export type EvictEventReason = Exclude<EvictionReason, 'expired'>

/**
 * Payload of `evict`. One event per call for scope evictions (`reason: 'scope'`, `count` entries,
 * `scope` the evicted path, no key) and tag invalidations (`reason: 'tag'`, `scope` the invalidated
 * path); one per entry otherwise.
 */
export interface EvictEvent {
  /** Why the entries were removed. */
  readonly reason: EvictEventReason
  /** How many entries were removed (1 except for scope evictions). */
  readonly count: number
  /** The evicted entry's scope, or the evicted scope; `undefined` when the storage did not say. */
  readonly scope: ScopePath | undefined
  /** The key of a direct entry; `undefined` for memoized ones, scope evictions, or when the storage did not say. */
  readonly key: string | undefined
  /** The memoized function's namespace; `undefined` for direct entries or when unknown. */
  readonly namespace: string | undefined
}

/**
 * Payload of `expire`: entries whose TTL had passed and that the storage reclaimed (on a read, a write or
 * a sweep). Storages that reclaim in bulk report a `count` without the entry (`scope` undefined).
 */
export interface ExpireEvent {
  /** How many expired entries were reclaimed. */
  readonly count: number
  /** The expired entry's scope; `undefined` for a bulk report. */
  readonly scope: ScopePath | undefined
  /** The key of a direct entry; `undefined` for memoized ones or a bulk report. */
  readonly key: string | undefined
  /** The memoized function's namespace; `undefined` for direct entries or a bulk report. */
  readonly namespace: string | undefined
}

/** Storage operations timed by `operation` events (memoized calls time their reads and writes). */
export type TimedOperation = 'get' | 'set' | 'evict' | 'evictByScope' | 'invalidateTags'

/** How a timed operation ended: a read is a `hit` or a `miss`; a failed one (even fail-open) is an `error`. */
export type OperationOutcome = 'hit' | 'miss' | 'ok' | 'error'

/**
 * Payload of `operation`: the duration of one storage operation, for latency histograms. The clock is
 * read only while an `operation` listener exists.
 */
export interface OperationEvent {
  /** Which storage operation was timed. */
  readonly operation: TimedOperation
  /** How it ended. */
  readonly outcome: OperationOutcome
  /** Milliseconds, from `performance.now()`. */
  readonly durationMs: number
}

/**
 * Events a `Cache` emits, with their listener arguments. Listeners run synchronously after the operation;
 * an event without listeners costs one boolean check and builds no payload.
 *
 * To add an event, add a key here with its argument tuple; `on`, `off` and `emit` pick it up.
 */
export interface CacheEvents {
  /** A read (direct or memoized) found a live entry. */
  hit: [event: EntryEvent]
  /** A read found nothing, or only an expired entry. */
  miss: [event: EntryEvent]
  /** A write (direct or memoized) was stored. */
  set: [event: SetEvent]
  /** Entries were removed; `reason` says why. */
  evict: [event: EvictEvent]
  /** Expired entries were reclaimed by the storage. */
  expire: [event: ExpireEvent]
  /** A storage operation finished; see {@link OperationEvent}. */
  operation: [event: OperationEvent]
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

/** A listener of event `E`. */
export type CacheEventListener<E extends keyof CacheEvents> = (...args: CacheEvents[E]) => void

/**
 * A minimal typed emitter. Unlike Node's EventEmitter, an `error` with no listener is dropped rather
 * than thrown, so a backend failure can never crash the host; emitting with no listener costs one check.
 */
export class CacheEventEmitter {
  readonly #listeners: { [E in keyof CacheEvents]?: CacheEventListener<E>[] } = {}

  /** Adds a listener. */
  on<E extends keyof CacheEvents>(event: E, listener: CacheEventListener<E>): this {
    ;((this.#listeners[event] ??= []) as CacheEventListener<E>[]).push(listener)
    this.listenersChanged()
    return this
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof CacheEvents>(event: E, listener: CacheEventListener<E>): this {
    const list = this.#listeners[event] as CacheEventListener<E>[] | undefined
    const i = list?.indexOf(listener) ?? -1
    if (i < 0) return this
    if (list!.length === 1) delete this.#listeners[event]
    else list!.splice(i, 1)
    this.listenersChanged()
    return this
  }

  /** Number of listeners of `event`. */
  listenerCount(event: keyof CacheEvents): number {
    return this.#listeners[event]?.length ?? 0
  }

  /** Called after every `on`/`off`; subclasses refresh their "is anyone listening" flags here. */
  protected listenersChanged(): void {}

  /** Calls each listener; a throwing listener does not stop the others or the cache. */
  protected emit<E extends keyof CacheEvents>(event: E, ...args: CacheEvents[E]): void {
    const list = this.#listeners[event] as CacheEventListener<E>[] | undefined
    if (list === undefined) return
    // Listeners added or removed by a listener take effect from the next event (a copy is iterated).
    if (list.length === 1) call(list[0]!, args)
    else for (const listener of [...list]) call(listener, args)
  }
}

function call<E extends keyof CacheEvents>(listener: CacheEventListener<E>, args: CacheEvents[E]): void {
  try {
    listener(...args)
  } catch {
    // A listener's own failure must not break the cache operation that emitted the event.
  }
}
