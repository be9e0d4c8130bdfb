import { ConfigurationError } from '../errors.js'
import { isWellFormed } from '../scopes/scope-config.js'
import type { ScopeId } from '../scopes/scope-level.js'
import { ttlToMs } from '../ttl.js'
import type { MaxConcurrent } from './bulkhead.js'
import { resolveMaxConcurrent } from './bulkhead.js'
import type { MemoizedFunction } from './handle.js'
import type { MemoHost } from './host.js'
import { claimNamespace } from './host.js'
import { resolveJitter } from './jitter.js'
import { memoize } from './memo-function.js'
import type { ResilienceOptions } from './resilience.js'
import { resolveResilience } from './resilience.js'
import { resolveRefreshAhead } from './write-options.js'

/**
 * A TTL in seconds chosen from a memoized call's result and arguments. (Declared as a method so that a
 * function typing its `result` parameter narrower, e.g. `(user: User) => ...`, is accepted.)
 */
export type ResultTtl<Result, Args extends unknown[]> = {
  bivariant(result: Result, ...args: Args): number
}['bivariant']

/** The tags of a memoized call's result, from its arguments. */
export type CallTags<Args extends unknown[]> = {
  bivariant(...args: Args): readonly string[]
}['bivariant']

/** Options of `cache.cache(options)`. */
export interface MemoizeOptions<
  Scope extends string = string,
  Args extends unknown[] = unknown[],
  Result = unknown,
> extends ResilienceOptions {
  /**
   * Time to live of each result, in seconds (fractions allowed). Default: the cache's default, or none.
   * A function chooses it per result, from the result and the call's arguments (e.g. a short TTL for an
   * empty answer); if it throws or answers no positive number, the call rejects and nothing is stored.
   */
  readonly ttlSeconds?: number | NoInfer<ResultTtl<Result, Args>>
  /**
   * Tags of each result, from the call's arguments (e.g. `(orgId) => ['org:' + orgId]`). Checked at
   * each write (an array of non-empty strings); storing them needs the storage's tags capability.
   */
  readonly tags?: NoInfer<CallTags<Args>>
  /**
   * A hit within this many seconds of its entry's expiry answers at once and refreshes the entry in the
   * background (one refresh per key, across processes with `lock`). Needs a TTL, and must be shorter
   * than a fixed one (with a `ttlSeconds` function the refresh starts at `max(ttl - this, ttl / 2)`).
   */
  readonly refreshAheadSeconds?: number
  /**
   * Seconds a key's background refreshes (refresh ahead, or of a stale entry in grace) pause after one
   * failed, instead of starting again at the next hit. Default: 5 with `refreshAheadSeconds`, else 0.
   */
  readonly graceBackoffSeconds?: number
  /** The scope level results are stored under (default `'global'`). */
  readonly scope?: Scope
  /**
   * Keeps this function's entries apart from every other's. Default: the function's name (the method's
   * name for decorators). Two memoized functions with the same namespace in one cache is an error.
   */
  readonly namespace?: string
  /** Derives the cache key from the arguments instead of encoding all of them. */
  readonly key?: (...args: Args) => unknown
  /**
   * Returns the scope parameters of a call. Default: each parameter is read by name from the first
   * plain-object argument that has it, e.g. `getUser({ orgId, userId })`.
   */
  readonly scopeParams?: (...args: Args) => Readonly<Record<string, ScopeId | undefined>>
  /**
   * Inside `cache.runInScope`, a scope parameter of a call that differs from the ambient one is a
   * `ScopeError`; `true` allows it (admin code that addresses other tenants on purpose).
   */
  readonly crossScope?: boolean
  /**
   * A bulkhead on misses: at most `limit` runs of the function at once per instance of the scope level
   * `per` (e.g. per organization), so one tenant's burst of misses cannot take every connection to the
   * backend. Calls of one key still share one run. A miss past the limit waits for a slot up to
   * `hardTimeoutMs`, else rejects at once with an `OverloadError`; a stale value within `graceSeconds`
   * is served instead of waiting (its background refresh is skipped while the bulkhead is full). `per`
   * must be the memoizer's scope, one of its ancestors, or `'global'`. With `lock` the limit holds across
   * processes (needs a storage with semaphores: RedisStorage, MongoDBStorage), else per process. Async
   * functions only (a synchronous function over an in-process storage cannot overlap itself).
   */
  readonly maxConcurrent?: MaxConcurrent
  /**
   * Spreads expiries: each stored TTL is multiplied by a random factor in `[1 - ttlJitter, 1]`, so the
   * entries one tenant filled at once do not all expire (and miss) at once. A number from 0 up to but
   * excluding 1, e.g. `0.1`; never lengthens a TTL. Under `graceSeconds` the jittered TTL is when the
   * value turns stale.
   */
  readonly ttlJitter?: number
}

/** The result type of a memoized function: sync stays sync over a sync storage, else a Promise. */
export type MemoizedResult<R, Sync extends boolean> =
  R extends PromiseLike<unknown> ? Promise<Awaited<R>> : Sync extends true ? R : Promise<R>

/**
 * Returned by `cache.cache(options)`: call it with a function to get the memoized function, or use it as
 * a method decorator (`@cache.cache({ ttlSeconds: 60 })`), TC39 or legacy (`experimentalDecorators`,
 * as NestJS and TypeORM compile).
 */
export interface Memoizer<Sync extends boolean, Args extends unknown[] = unknown[]> {
  <A extends Args, R>(fn: (...args: A) => R): MemoizedFunction<A, R, Sync>
  <This, A extends Args, R>(
    method: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => MemoizedResult<R, Sync>
  /** A legacy (`experimentalDecorators`) method decorator: replaces the method in its descriptor. */
  <M extends (...args: never[]) => unknown>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M>
}

/** Builds the memoizer of `cache.cache(options)`; options are checked now, not at the first call. */
export function createMemoizer(host: MemoHost, options: MemoizeOptions = {}): Memoizer<boolean> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('cache.cache(options) expects an options object, e.g. { ttlSeconds: 60 }')
  }
  const ttlOf = typeof options.ttlSeconds === 'function' ? options.ttlSeconds : undefined
  const ttlMs =
    options.ttlSeconds === undefined
      ? host.defaultTtlMs
      : ttlOf !== undefined
        ? undefined
        : ttlToMs(options.ttlSeconds, 'ttlSeconds', 'configuration')
  const level = host.scopes.level(options.scope ?? 'global')
  for (const name of ['key', 'scopeParams', 'tags'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new ConfigurationError(
        `the ${name} option must be a function of the memoized function's arguments`,
      )
    }
  }
  if (
    options.namespace !== undefined &&
    (typeof options.namespace !== 'string' || options.namespace === '' || !isWellFormed(options.namespace))
  ) {
    throw new ConfigurationError('namespace must be a non-empty, well-formed string')
  }
  const ops = host.ops
  if (options.tags !== undefined) ops.checkTagged('cache.cache({ tags })')
  // A TTL chosen per result is checked at each write; the options that need a TTL accept it.
  const resilience = resolveResilience(options, ttlOf !== undefined ? 1 : ttlMs, {
    storageType: ops.storageType,
    isSync: ops.sync !== undefined,
    locks: host.locks,
  })
  const ahead = resolveRefreshAhead(options, ttlOf !== undefined ? 'dynamic' : ttlMs, 'configuration')
  const jitter = resolveJitter(options.ttlJitter, 'configuration')
  const plan = (namespace: string) =>
    options.maxConcurrent === undefined
      ? undefined
      : resolveMaxConcurrent(
          options.maxConcurrent,
          host.scopes,
          level,
          namespace,
          resilience.hardTimeoutMs,
          resilience.lock,
          ops.storageType,
          'configuration',
        )
  if (options.maxConcurrent !== undefined) plan('') // checked now, not at the first wrap

  if (options.crossScope !== undefined && typeof options.crossScope !== 'boolean') {
    throw new ConfigurationError('the crossScope option must be true or false')
  }

  const memoizer = (fn: unknown, context?: unknown, descriptor?: unknown): unknown => {
    if (isLegacyDecoration(fn, context, descriptor)) {
      // experimentalDecorators: (prototype or constructor, name, descriptor); the wrapped method
      // replaces the descriptor's value, named by the method unless a namespace is given.
      const method = descriptor.value
      if (typeof context === 'symbol' && options.namespace === undefined) {
        throw new ConfigurationError(
          'a method named by a symbol needs a namespace option, e.g. @cache.cache({ namespace: "Repo.find" })',
        )
      }
      const wrapped = wrap(method, { kind: 'method', name: context })
      return { ...descriptor, value: wrapped }
    }
    return wrap(fn, context)
  }
  const wrap = (fn: unknown, context: unknown): unknown => {
    ops.checkOpen('cache')
    if (typeof fn !== 'function') {
      throw new ConfigurationError(
        `cache.cache(...) wraps a function, got ${fn === null ? 'null' : typeof fn}`,
      )
    }
    const namespace = options.namespace ?? namespaceOf(fn, context)
    claimNamespace(host, namespace)
    return memoize(host, fn as (...args: unknown[]) => unknown, {
      namespace,
      ttlMs,
      ttlOf: ttlOf as ((result: unknown, ...args: unknown[]) => unknown) | undefined,
      tagsOf: options.tags as ((...args: unknown[]) => unknown) | undefined,
      level,
      resilience,
      ahead,
      key: options.key,
      scopeParams: options.scopeParams as
        ((...args: unknown[]) => Readonly<Record<string, ScopeId | undefined>>) | undefined,
      crossScope: options.crossScope === true,
      bulkhead: plan(namespace),
      jitter,
    })
  }
  return memoizer as Memoizer<boolean>
}

/** Whether a decorator call has the legacy `(target, propertyKey, descriptor)` shape. */
function isLegacyDecoration(
  target: unknown,
  key: unknown,
  descriptor: unknown,
): descriptor is PropertyDescriptor & { value: unknown } {
  if (descriptor === undefined || (typeof key !== 'string' && typeof key !== 'symbol')) return false
  if (target === null || (typeof target !== 'object' && typeof target !== 'function')) return false
  if (descriptor === null || typeof descriptor !== 'object' || !('value' in descriptor)) {
    throw new ConfigurationError(
      `@cache.cache() decorates methods only; ${String(key)} is an accessor or a field`,
    )
  }
  return true
}

function namespaceOf(fn: { name: string }, context: unknown): string {
  if (context !== undefined) {
    const ctx = context as Partial<ClassMethodDecoratorContext>
    if (ctx.kind !== 'method') {
      throw new ConfigurationError(`@cache.cache() decorates methods only, not a ${String(ctx.kind)}`)
    }
    if (typeof ctx.name !== 'string') {
      throw new ConfigurationError(
        'a method named by a symbol needs a namespace option, e.g. @cache.cache({ namespace: "Repo.find" })',
      )
    }
    return ctx.name
  }
  if (fn.name === '') {
    throw new ConfigurationError(
      'an anonymous function needs a namespace option, e.g. cache.cache({ namespace: "loadUser" })(fn)',
    )
  }
  return fn.name
}
