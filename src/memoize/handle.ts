import { InvalidArgumentError } from '../errors.js'

/** How a call was answered: from a fresh entry, by running the function, or from a stale entry in grace. */
export type CallStatus = 'hit' | 'miss' | 'stale'

/**
 * Where a call's value came from (a miss: where it was stored): the local tier of a two-tier cache, the
 * shared storage (Redis, MongoDB, ...), or the in-process storage of a single-tier cache (`InMemory`).
 */
export type CallTier = 'local' | 'shared' | 'memory'

/** What `fn.withMetadata(...args)` answers. */
export interface CallMetadata<V> {
  /** The value the call answered. */
  readonly value: V
  /** `'hit'`, `'miss'` (the function ran, or this call joined a run in progress) or `'stale'`. */
  readonly status: CallStatus
  /** Where the value came from; for a miss, where it was stored. */
  readonly tier: CallTier
  /**
   * When the value stops being fresh, in epoch milliseconds; `null` when it never expires; `undefined`
   * when the entry does not record it (a hit of an entry with a fixed TTL and neither `graceSeconds`
   * nor `refreshAheadSeconds`: such entries are stored without their expiry, to stay small).
   */
  readonly expiresAt: number | null | undefined
}

/** Answers `T` the way the memoized function answers: as it is over a sync storage for a sync function. */
export type AsFunctionAnswers<T, R, Sync extends boolean> =
  R extends PromiseLike<unknown> ? Promise<T> : Sync extends true ? T : Promise<T>

/**
 * The methods every memoized function has, next to being callable. Each takes the function's own
 * parameters and addresses the entry a call with those arguments uses (same scope, same key).
 * They follow the function's sync/async rule: a sync function over a sync storage answers directly, any
 * other answers a Promise (a function that returns a Promise without being `async` is known as such
 * after its first call).
 */
export interface MemoHandle<A extends unknown[], R, Sync extends boolean> {
  /**
   * Drops the entry these arguments map to; answers whether there was one. Like `cache.evict`, it is
   * announced to other processes' local tiers, and a computation of that entry already running in this
   * process does not store its result.
   */
  evict(...args: A): AsFunctionAnswers<boolean, R, Sync>
  /**
   * Runs the function now, stores its result and answers it. Concurrent refreshes and misses of the
   * entry share one run; a refresh that started before an eviction of its scope does not store.
   */
  refresh(...args: A): AsFunctionAnswers<Awaited<R>, R, Sync>
  /**
   * The value a call would answer without running the function (a stale value within its grace period
   * included), or `undefined`. Never runs the function. An inspection: not counted as a hit or a miss,
   * no `hit`/`miss` event, no rule hooks.
   */
  peek(...args: A): AsFunctionAnswers<Awaited<R> | undefined, R, Sync>
  /** Calls the memoized function (counted like a call) and tells how it was answered. */
  withMetadata(...args: A): AsFunctionAnswers<CallMetadata<Awaited<R>>, R, Sync>
}

/** A memoized function: call it as the original, or use its {@link MemoHandle} methods. */
export interface MemoizedFunction<A extends unknown[], R, Sync extends boolean> extends MemoHandle<
  A,
  R,
  Sync
> {
  /** The memoized call. */
  (...args: A): AsFunctionAnswers<Awaited<R>, R, Sync>
}

/** The handle methods of one memoized function, with the `this` its function runs with. */
export type HandleFactory = (self: unknown) => MemoHandle<unknown[], unknown, boolean>

/** Memoized functions (and decorated methods) and how to get their handle for a given `this`. */
const handles = new WeakMap<object, HandleFactory>()

/**
 * Gives `memoized` its handle methods (calling them as `fn.evict(...)` runs the function with an
 * undefined `this`) and registers it for {@link handleFor}.
 */
export function attachHandle(memoized: object, factory: HandleFactory): void {
  const own = factory(undefined)
  for (const name of ['evict', 'refresh', 'peek', 'withMetadata'] as const) {
    Object.defineProperty(memoized, name, { value: own[name], enumerable: false })
  }
  handles.set(memoized, factory)
}

/**
 * The handle of `instance[method]`, a method decorated with `@cache.cache()` (its function runs with
 * `this` = `instance`); an `InvalidArgumentError` if that is not a memoized method.
 */
export function handleFor(instance: unknown, method: PropertyKey): MemoHandle<unknown[], unknown, boolean> {
  if (instance === null || (typeof instance !== 'object' && typeof instance !== 'function')) {
    throw new InvalidArgumentError(
      `cache.memoized(instance, method): instance must be an object, got ${instance === null ? 'null' : typeof instance}`,
    )
  }
  const fn = (instance as Record<PropertyKey, unknown>)[method]
  const factory = typeof fn === 'function' ? handles.get(fn) : undefined
  if (factory === undefined) {
    throw new InvalidArgumentError(
      `cache.memoized(instance, ${JSON.stringify(String(method))}): that property is not a method memoized with @cache.cache()`,
    )
  }
  return factory(instance)
}

/** The keys of `T` whose values are methods (for `cache.memoized(instance, method)`). */
export type MethodKey<T> = {
  [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never
}[keyof T]

/** The handle of a memoized method, as `cache.memoized(instance, method)` answers it. */
export type MethodHandle<M, Sync extends boolean> = M extends (...args: infer A) => infer R
  ? MemoHandle<A, R, Sync>
  : never
