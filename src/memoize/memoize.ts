import { ConfigurationError, InvalidArgumentError } from '../errors.js'
import { ArgsKeyCache } from '../keys/args-key-cache.js'
import { memoKeyPrefix } from '../keys/entry-key.js'
import type { ResolvedLevel } from '../scopes/scope-config.js'
import { isWellFormed } from '../scopes/scope-config.js'
import type { ScopeId } from '../scopes/scope-level.js'
import type { EntryRef, ScopePath } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import type { MemoHost } from './host.js'
import { ttlToMs } from '../ttl.js'

/** Options of `cache.cache(options)`. */
export interface MemoizeOptions<Scope extends string = string, Args extends unknown[] = unknown[]> {
  /** Time to live of each result, in seconds (fractions allowed). Default: the cache's default, or none. */
  readonly ttlSeconds?: number
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
}

/** The result type of a memoized function: sync stays sync over a sync storage, else a Promise. */
export type MemoizedResult<R, Sync extends boolean> =
  R extends PromiseLike<unknown> ? Promise<Awaited<R>> : Sync extends true ? R : Promise<R>

/**
 * Returned by `cache.cache(options)`: call it with a function to get the memoized function, or use it as
 * a TC39 method decorator (`@cache.cache({ ttlSeconds: 60 })`).
 */
export interface Memoizer<Sync extends boolean, Args extends unknown[] = unknown[]> {
  <A extends Args, R>(fn: (...args: A) => R): (...args: A) => MemoizedResult<R, Sync>
  <This, A extends Args, R>(
    method: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => MemoizedResult<R, Sync>
}

const EMPTY_PATH: ScopePath = []

/** Builds the memoizer of `cache.cache(options)`; options are checked now, not at the first call. */
export function createMemoizer(host: MemoHost, options: MemoizeOptions = {}): Memoizer<boolean> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('cache.cache(options) expects an options object, e.g. { ttlSeconds: 60 }')
  }
  const ttlMs =
    options.ttlSeconds === undefined
      ? host.defaultTtlMs
      : ttlToMs(options.ttlSeconds, 'ttlSeconds', 'configuration')
  const level = host.scopes.level(options.scope ?? 'global')
  for (const name of ['key', 'scopeParams'] as const) {
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

  const memoizer = (fn: unknown, context?: unknown): unknown => {
    host.checkOpen('cache')
    if (typeof fn !== 'function') {
      throw new ConfigurationError(
        `cache.cache(...) wraps a function, got ${fn === null ? 'null' : typeof fn}`,
      )
    }
    const namespace = options.namespace ?? namespaceOf(fn, context)
    host.claimNamespace(namespace)
    return memoize(host, fn as (...args: unknown[]) => unknown, { ...options, namespace, ttlMs, level })
  }
  return memoizer as Memoizer<boolean>
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

interface ResolvedMemoOptions extends MemoizeOptions {
  readonly namespace: string
  readonly ttlMs: number | undefined
  readonly level: ResolvedLevel
}

function memoize(host: MemoHost, fn: (...args: unknown[]) => unknown, options: ResolvedMemoOptions) {
  const prefix = memoKeyPrefix(options.namespace)
  const { level, ttlMs, key: deriveKey, scopeParams } = options
  const flights = host.flights
  let isAsync = fn.constructor?.name === 'AsyncFunction'

  const keys = new ArgsKeyCache(prefix)

  const refFor = (args: unknown[]): EntryRef => {
    const keyPart = deriveKey === undefined ? keys.of(args) : keys.of([deriveKey(...args)])
    if (level.path.length === 0) return { scope: EMPTY_PATH, key: keyPart }
    const params = scopeParams?.(...args)
    if (scopeParams !== undefined && (params === null || typeof params !== 'object')) {
      throw new InvalidArgumentError(
        `scopeParams of ${options.namespace} must return an object of scope parameters`,
      )
    }
    const lookup =
      params !== undefined ? (name: string) => params[name] : (name: string) => paramFromArgs(args, name)
    return { scope: host.scopes.resolveWith(level, lookup), key: keyPart }
  }

  const settle = (ref: EntryRef, pending: PromiseLike<unknown>): Promise<unknown> =>
    flights.start(encodeEntryRef(ref), pending, (value) =>
      host.isSync ? host.writeSync(ref, value, ttlMs) : host.write(ref, value, ttlMs),
    )

  if (!host.isSync) {
    return async function memoizedAsync(this: unknown, ...args: unknown[]): Promise<unknown> {
      host.checkOpen(options.namespace)
      const ref = refFor(args)
      const id = encodeEntryRef(ref)
      const running = flights.join(id)
      if (running !== undefined) return running
      flights.beginRead(id)
      let cached: unknown
      let finished: Promise<unknown> | undefined
      try {
        cached = await host.read(ref)
      } finally {
        finished = flights.endRead(id)
      }
      if (cached !== MISS) return cached
      return flights.join(id) ?? finished ?? settle(ref, Promise.resolve(fn.apply(this, args)))
    }
  }

  return function memoized(this: unknown, ...args: unknown[]): unknown {
    let ref: EntryRef
    try {
      host.checkOpen(options.namespace)
      ref = refFor(args)
    } catch (error) {
      if (isAsync) return Promise.reject(error)
      throw error
    }
    const cached = host.readSync(ref)
    if (cached !== MISS) return isAsync ? Promise.resolve(cached) : cached
    if (isAsync) {
      const running = flights.join(encodeEntryRef(ref))
      if (running !== undefined) return running
    }
    const result = fn.apply(this, args)
    if (isThenable(result)) {
      isAsync = true
      return settle(ref, result)
    }
    host.writeSync(ref, result, ttlMs)
    return result
  }
}

function paramFromArgs(args: unknown[], name: string): unknown {
  for (const arg of args) {
    if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) {
      const value = (arg as Record<string, unknown>)[name]
      if (value !== undefined) return value
    }
  }
  return undefined
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
