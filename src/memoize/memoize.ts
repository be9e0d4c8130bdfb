import { ConfigurationError, InvalidArgumentError, RefreshError } from '../errors.js'
import { ArgsKeyCache } from '../keys/args-key-cache.js'
import { memoKeyPrefix } from '../keys/entry-key.js'
import type { ResolvedLevel } from '../scopes/scope-config.js'
import { EMPTY_PATH, isWellFormed } from '../scopes/scope-config.js'
import type { ScopeId } from '../scopes/scope-level.js'
import type { EntryRef, WriteFence, WriteOptions } from '../storage/contract.js'
import { checkTags, MAX_TAGS_PER_ENTRY } from '../storage/tags.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import { ttlToMs } from '../ttl.js'
import { isEnvelope, isStale, NEVER_STALE, wrapEnvelope } from './envelope.js'
import type { MemoHost } from './host.js'
import { claimNamespace } from './host.js'
import { LATER } from '../operations/pipeline.js'
import { LockSession } from './lock-session.js'
import type { Resilience, ResilienceOptions } from './resilience.js'
import { resolveResilience } from './resilience.js'
import { preferFresh, SKIPPED, withDeadline } from './timeouts.js'

/** Options of `cache.cache(options)`. */
export interface MemoizeOptions<
  Scope extends string = string,
  Args extends unknown[] = unknown[],
> extends ResilienceOptions {
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
  /**
   * The tags of a call's stored result (see `cache.invalidateTags`), from its arguments, checked on every
   * call as `set`'s tags are. Needs a storage with tags.
   */
  readonly tags?: (...args: Args) => readonly string[]
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
  const resilience = resolveResilience(options, ttlMs, {
    storageType: ops.storageType,
    isSync: ops.sync !== undefined,
    locks: host.locks,
  })

  const memoizer = (fn: unknown, context?: unknown): unknown => {
    ops.checkOpen('cache')
    if (typeof fn !== 'function') {
      throw new ConfigurationError(
        `cache.cache(...) wraps a function, got ${fn === null ? 'null' : typeof fn}`,
      )
    }
    const namespace = options.namespace ?? namespaceOf(fn, context)
    claimNamespace(host, namespace)
    return memoize(host, fn as (...args: unknown[]) => unknown, {
      ...options,
      namespace,
      ttlMs,
      level,
      resilience,
    })
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
  readonly resilience: Resilience
}

/**
 * How a computed result may be stored: through the storage's fence taken before the computation, plainly
 * ({@link UNFENCED}: the storage has no fences), or not at all ({@link LOST}: taking the fence failed).
 */
type Fence = WriteFence | typeof UNFENCED | typeof LOST

/** The storage has no fences: a computed result is stored with a plain write. */
const UNFENCED: unique symbol = Symbol('cacheado.unfenced')
/** The fence could not be taken: the result is answered but not stored (it could undo an eviction). */
const LOST: unique symbol = Symbol('cacheado.fenceLost')

/** What a load produced: a value from the function (to store) or from the storage (already stored). */
interface Outcome {
  readonly value: unknown
  readonly computed: boolean
  /** How to store a computed value. */
  readonly fence?: Fence
}

/** No usable value (a miss, or only a stale one). */
const NONE: unique symbol = Symbol('cacheado.none')

/** Longest pause between two polls of a lock waiter, in ms. */
const MAX_POLL_PAUSE_MS = 100

/** A lock waiter's pause. Not unref'd: a caller awaits it, and it lasts at most `waitMs` in all. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
/** The turn a sync function's refresh runs on (unref'd: nobody awaits it). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve).unref())

function memoize(host: MemoHost, fn: (...args: unknown[]) => unknown, options: ResolvedMemoOptions) {
  const prefix = memoKeyPrefix(options.namespace)
  const { level, ttlMs, key: deriveKey, scopeParams, namespace } = options
  const { lock, graceMs, softTimeoutMs, hardTimeoutMs } = options.resilience
  const ops = host.ops
  const flights = ops.flights
  const isSync = ops.sync !== undefined
  const report = (operation: string, error: unknown): void => ops.report(operation, error)
  let isAsync = fn.constructor?.name === 'AsyncFunction'
  /** Under a grace period the storage keeps entries `ttl + grace`; staleness is in the envelope. */
  const storedTtlMs = graceMs === 0 || ttlMs === undefined ? ttlMs : ttlMs + graceMs

  const keys = new ArgsKeyCache(prefix)
  // Global scope: the whole ref depends on the arguments only, so it is reused (refs are immutable).
  const globalRefs =
    level.path.length === 0
      ? new ArgsKeyCache<EntryRef>(prefix, undefined, (key) => ({ scope: EMPTY_PATH, key }))
      : undefined

  // Tags of the refs of calls under way (with the `tags` option), read when their result is stored.
  const tagsOf = options.tags
  const tagged = tagsOf === undefined ? undefined : new WeakMap<EntryRef, WriteOptions>()
  const refFor = (args: unknown[]): EntryRef => {
    const ref = refOfArgs(args)
    if (tagged !== undefined) {
      tagged.set(ref, {
        tags: checkTags(tagsOf!(...args), MAX_TAGS_PER_ENTRY, `the tags option of ${namespace}`),
      })
    }
    return ref
  }

  const refOfArgs = (args: unknown[]): EntryRef => {
    const keyArgs = deriveKey === undefined ? args : [deriveKey(...args)]
    if (globalRefs !== undefined) return globalRefs.of(keyArgs)
    const keyPart = keys.of(keyArgs)
    const params = scopeParams?.(...args)
    if (scopeParams !== undefined && (params === null || typeof params !== 'object')) {
      throw new InvalidArgumentError(`scopeParams of ${namespace} must return an object of scope parameters`)
    }
    const lookup =
      params !== undefined ? (name: string) => params[name] : (name: string) => paramFromArgs(args, name)
    return { scope: host.scopes.resolveWith(level, lookup), key: keyPart }
  }

  /** Stores a result the function computed (in an envelope under a grace period), through `fence`. */
  const store = (ref: EntryRef, value: unknown, fence: Fence = UNFENCED): void | Promise<void> => {
    if (fence === LOST) return
    const stored =
      graceMs !== 0
        ? wrapEnvelope(value, Date.now() + ttlMs!)
        : isEnvelope(value)
          ? wrapEnvelope(value, NEVER_STALE) // a result shaped like an envelope is stored inside a real one
          : value
    const write = tagged?.get(ref)
    if (fence !== UNFENCED) return ops.write(ref, stored, storedTtlMs, true, fence, write)
    return isSync
      ? ops.writeSync(ref, stored, storedTtlMs, true, write)
      : ops.write(ref, stored, storedTtlMs, true, undefined, write)
  }

  /**
   * Runs `call` for a result to store. Over a storage with fences, the fence is taken first: a result
   * is never written after an eviction (by any process) that was applied while it was being computed.
   */
  const compute = async (ref: EntryRef, call: () => unknown): Promise<Outcome> => {
    if (ops.fence === undefined) return { value: await call(), computed: true, fence: UNFENCED }
    let fence: Fence
    try {
      fence = await ops.fence(ref)
    } catch (error) {
      report('fence', error) // the function still answers; its result is not stored
      fence = LOST
    }
    return { value: await call(), computed: true, fence }
  }

  /** The fresh value in what the storage returned, or NONE. */
  const usable = (stored: unknown): unknown => {
    if (stored === MISS) return NONE
    if (!isEnvelope(stored)) return stored
    return isStale(stored, Date.now()) ? NONE : stored.v
  }

  const deadline = (pending: Promise<unknown>): Promise<unknown> =>
    hardTimeoutMs === undefined ? pending : withDeadline(pending, hardTimeoutMs, namespace)

  /** Runs `pending` as the single flight `id` (the encoded `ref`, computed once per call). */
  const settle = (ref: EntryRef, id: string, pending: PromiseLike<unknown>): Promise<unknown> =>
    flights.start(id, pending, (value) => store(ref, value))

  /**
   * Starts a single flight under `id` whose work may hold the entry's lock (released once the flight
   * stored its value) and may find the value in the storage instead of computing it (not stored again).
   */
  const startFlight = (
    id: string,
    ref: EntryRef,
    work: (session: LockSession | undefined) => Promise<Outcome>,
  ): Promise<unknown> => {
    const session = lock && new LockSession(lock.locks, lock.ttlMs, report)
    let computed = false
    let fence: Fence = UNFENCED
    const pending = work(session).then((outcome) => {
      computed = outcome.computed
      fence = outcome.fence ?? UNFENCED
      return outcome.value
    })
    // The lock is released once the value is stored, before the callers get it; a flight that failed
    // or was invalidated (nothing stored) releases it as it ends.
    const flight = flights.start(id, pending, async (value) => {
      if (computed) await store(ref, value, fence)
      await session?.release()
    })
    if (session !== undefined) {
      const end = () => void session.release()
      flight.then(end, end)
    }
    return flight
  }

  /**
   * A miss under `lock`: take the entry's lock, or poll the storage (with backoff) until another
   * process has stored the value or released its lock. After `waitMs` without either, give up and run
   * the function anyway. A storage that fails to lock lets the function run (fail-open).
   */
  const waitForTurn = async (ref: EntryRef, session: LockSession, waitMs: number): Promise<unknown> => {
    const until = Date.now() + waitMs
    let pause = 5
    for (;;) {
      let acquired: boolean
      try {
        acquired = await session.acquire(ref)
      } catch (error) {
        report('lock', error)
        return NONE
      }
      // The previous holder may have stored the value between our read and our lock.
      if (acquired) return usable(await ops.peek(ref))
      const left = until - Date.now()
      if (left <= 0) return NONE
      await sleep(Math.min(left, pause * (0.5 + Math.random())))
      pause = Math.min(pause * 2, MAX_POLL_PAUSE_MS)
      const found = usable(await ops.peek(ref))
      if (found !== NONE) return found
    }
  }

  const missWork =
    (ref: EntryRef, call: () => unknown) =>
    async (session: LockSession | undefined): Promise<Outcome> => {
      if (session !== undefined) {
        const found = await waitForTurn(ref, session, lock!.waitMs)
        if (found !== NONE) return { value: found, computed: false }
      }
      return compute(ref, call)
    }

  /**
   * A refresh of a stale entry. Under `lock` it never waits: if another process holds the lock, it is
   * refreshing, and this one keeps serving the stale value.
   */
  const refreshWork =
    (ref: EntryRef, call: () => unknown) =>
    async (session: LockSession | undefined): Promise<Outcome> => {
      if (session !== undefined) {
        let acquired = true
        try {
          acquired = await session.acquire(ref)
        } catch (error) {
          report('lock', error)
        }
        if (!acquired) return { value: SKIPPED, computed: false }
        const found = usable(await ops.peek(ref))
        if (found !== NONE) return { value: found, computed: false }
      }
      return compute(ref, call)
    }

  /**
   * A stale hit within the grace period: start one background refresh per key (its own single flight,
   * so callers of the stale entry are not held by it), then answer the stale value, or with
   * `softTimeoutMs` the refreshed one if it arrives in time. A failed refresh is an `error` event.
   */
  const serveStale = (ref: EntryRef, stale: unknown, call: () => unknown, asPromise: boolean): unknown => {
    const refreshId = encodeEntryRef({ scope: ref.scope, key: `#r${ref.key.slice(2)}` })
    let refresh = flights.join(refreshId)
    if (refresh === undefined) {
      refresh = startFlight(refreshId, ref, refreshWork(ref, call))
      refresh.catch((error: unknown) => report('refresh', new RefreshError(namespace, error)))
    }
    if (!asPromise) return stale
    return softTimeoutMs === undefined ? Promise.resolve(stale) : preferFresh(refresh, stale, softTimeoutMs)
  }

  if (!isSync) {
    return async function memoizedAsync(this: unknown, ...args: unknown[]): Promise<unknown> {
      ops.checkOpen(namespace)
      const ref = refFor(args)
      const id = encodeEntryRef(ref)
      const running = flights.join(id)
      if (running !== undefined) return deadline(running)
      const ticket = flights.beginRead(id)
      let cached: unknown
      let finished: Promise<unknown> | undefined
      try {
        cached = ops.readNow(ref, true)
        if (cached === LATER) cached = await ops.fetch(ref, true)
      } finally {
        finished = flights.endRead(id, ticket)
      }
      if (cached !== MISS) {
        if (!isEnvelope(cached)) return cached
        if (!isStale(cached, Date.now())) return cached.v
        return serveStale(ref, cached.v, () => fn.apply(this, args), true)
      }
      const joined = flights.join(id) ?? finished
      if (joined !== undefined) return deadline(joined)
      if (lock === undefined && ops.fence === undefined) {
        return deadline(settle(ref, id, Promise.resolve(fn.apply(this, args))))
      }
      return deadline(
        startFlight(
          id,
          ref,
          missWork(ref, () => fn.apply(this, args)),
        ),
      )
    }
  }

  return function memoized(this: unknown, ...args: unknown[]): unknown {
    let ref: EntryRef
    try {
      ops.checkOpen(namespace)
      ref = refFor(args)
    } catch (error) {
      if (isAsync) return Promise.reject(error)
      throw error
    }
    const cached = ops.readSync(ref, true)
    if (cached !== MISS) {
      if (!isEnvelope(cached)) return isAsync ? Promise.resolve(cached) : cached
      if (isStale(cached, Date.now())) {
        // A sync function's refresh runs on a later turn, so this call still answers at once.
        const call = isAsync ? () => fn.apply(this, args) : () => nextTurn().then(() => fn.apply(this, args))
        return serveStale(ref, cached.v, call, isAsync)
      }
      return isAsync ? Promise.resolve(cached.v) : cached.v
    }
    const id = isAsync ? encodeEntryRef(ref) : undefined
    if (id !== undefined) {
      const running = flights.join(id)
      if (running !== undefined) return deadline(running)
    }
    const result = fn.apply(this, args)
    if (isThenable(result)) {
      isAsync = true
      return deadline(settle(ref, id ?? encodeEntryRef(ref), result))
    }
    void store(ref, result)
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
