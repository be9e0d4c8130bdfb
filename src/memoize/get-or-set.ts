import { InvalidArgumentError, RefreshError } from '../errors.js'
import { LATER } from '../operations/pipeline.js'
import type { EntryRef, WriteFence } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import { refreshFlightId } from '../operations/single-flight.js'
import { ttlToMs } from '../ttl.js'
import type { BulkheadPlan, MaxConcurrent, SlotWait } from './bulkhead.js'
import { bulkheadsOf, resolveMaxConcurrent, trackWait } from './bulkhead.js'
import type { MemoHost } from './host.js'
import { jittered, resolveJitter } from './jitter.js'
import { LockSession, waitForTurn } from './lock-session.js'
import type { LockOptions, Resilience } from './resilience.js'
import { resolveResilience } from './resilience.js'
import { withDeadline } from './timeouts.js'
import type { RefreshAhead } from './write-options.js'
import { checkWriteTags, RefreshBackoff, refreshAt, resolveRefreshAhead } from './write-options.js'

/**
 * What `cache.getOrSet` hands its factory: the factory may decide, from what it computed, how (or
 * whether) the value is stored. The decisions apply to this run only.
 */
export interface FactoryContext {
  /**
   * Stores the value with this TTL instead of `options.ttlSeconds` (a positive number of seconds).
   * A bad value throws an `InvalidArgumentError` inside the factory: unless caught, the call rejects
   * with it and nothing is stored.
   */
  setTtl(seconds: number): void
  /** Stores the value with these tags instead of `options.tags` (storing needs the tags capability). */
  setTags(tags: readonly string[]): void
  /** Answers the value without storing it (e.g. an error page, a partial result). */
  skip(): void
}

/** Options of `cache.getOrSet` besides the scope (see `GetOrSetOptions`). */
export interface LoaderOptions {
  /** Time to live of a stored value in seconds; absent: the cache's default, or no expiry. */
  readonly ttlSeconds?: number
  /** Tags of a stored value (storing them needs the storage's tags capability). */
  readonly tags?: readonly string[]
  /**
   * Stampede protection across processes, as memoization's `lock`: processes sharing the storage run
   * the factory once per key between them (a no-op on an in-process storage).
   */
  readonly lock?: boolean | LockOptions
  /**
   * A hit within this many seconds of the expiry of a value this process stored answers at once and
   * refreshes it in the background (one refresh per key; across processes with `lock`). Needs a TTL
   * shorter than it. The expiry is known for the values this process wrote: an entry another process
   * wrote is refreshed by that process, or computed again once it expired.
   */
  readonly refreshAheadSeconds?: number
  /** Seconds a key's refreshes ahead pause after one failed (default 5). */
  readonly graceBackoffSeconds?: number
  /** Milliseconds a miss waits for the factory before rejecting with a `TimeoutError`. */
  readonly hardTimeoutMs?: number
  /**
   * A bulkhead on misses: at most `limit` factory runs at once per instance of the scope level `per`
   * among the `getOrSet` calls naming it (of every key; `group` names a bulkhead to share with other
   * callers). Calls of one key still share one run. Past the limit a miss waits for a slot up to
   * `hardTimeoutMs`, else rejects at once with an `OverloadError` (nothing stored); a refresh ahead
   * that finds no slot is skipped. The call's scope must have a `per` instance. With `lock` the limit
   * holds across processes (RedisStorage, MongoDBStorage), else per process. `getOrSetSync` ignores
   * it (a synchronous factory cannot overlap).
   */
  readonly maxConcurrent?: MaxConcurrent
  /**
   * Multiplies the stored TTL by a random factor in `[1 - ttlJitter, 1]` (0 <= ttlJitter < 1), so
   * entries written together do not expire together; never lengthens it.
   */
  readonly ttlJitter?: number
}

/** The option names of {@link LoaderOptions}, besides the scope's. */
export const LOADER_OPTIONS: ReadonlySet<string> = new Set([
  'scope',
  'ttlSeconds',
  'tags',
  'lock',
  'refreshAheadSeconds',
  'graceBackoffSeconds',
  'hardTimeoutMs',
  'maxConcurrent',
  'ttlJitter',
])

/** The factory of `cache.getOrSet`. */
export type Factory<V> = (ctx: FactoryContext) => V | PromiseLike<V>

/** One call's options, validated. */
interface CallOptions {
  readonly ttlMs: number | undefined
  readonly tags: readonly string[] | undefined
  readonly resilience: Resilience | undefined
  readonly ahead: RefreshAhead | undefined
  readonly bulkhead?: BulkheadPlan
  /** `ttlJitter` (absent: none). */
  readonly jitter?: number
}

/** The factory context of one run; `done` once the factory settled (later calls change nothing). */
class Context implements FactoryContext {
  ttlMs: number | undefined
  tags: readonly string[] | undefined
  skipped = false
  done = false
  /** `ttlJitter` of the call (0: none), applied to whatever TTL is stored. */
  readonly jitter: number

  constructor(options: CallOptions) {
    this.ttlMs = options.ttlMs
    this.tags = options.tags
    this.jitter = options.jitter ?? 0
  }

  setTtl(seconds: number): void {
    const ttlMs = ttlToMs(seconds, 'ctx.setTtl(seconds)', 'argument')
    if (!this.done) this.ttlMs = ttlMs
  }

  setTags(tags: readonly string[]): void {
    const checked = checkWriteTags(tags, 'ctx.setTags(tags)')
    if (!this.done) this.tags = checked
  }

  skip(): void {
    if (!this.done) this.skipped = true
  }
}

/** The fence could not be taken: the value is answered but not stored. */
const LOST: unique symbol = Symbol('cacheado.fenceLost')
/** A background refresh found another process refreshing (it holds the lock). */
const SKIP: unique symbol = Symbol('cacheado.refreshSkipped')
/** Most keys whose refresh-ahead time this process remembers (the oldest are forgotten past it). */
const MAX_REFRESH_TIMES = 10_000

/**
 * `cache.getOrSet` and `getOrSetSync`: the value of an entry, or the factory's result stored under it.
 * Entries are ordinary direct entries (`cache.get(key)` reads them). Misses run as single flights keyed
 * by the entry, shared with concurrent calls and with memoized calls' machinery: evictions detach them
 * (a value computed before an eviction is answered but never stored after it).
 */
export class GetOrSet {
  readonly #host: MemoHost
  /** When the values this process stored are due for a refresh ahead, by entry id. */
  readonly #refreshAt = new Map<string, number>()
  readonly #backoffs = new Map<number, RefreshBackoff>()

  constructor(host: MemoHost) {
    this.#host = host
  }

  /** Checks one call's options (scope aside); only the ones given cost anything. */
  options(options: LoaderOptions | undefined): CallOptions {
    const host = this.#host
    if (options === undefined || options === null) return this.#plain(undefined)
    const ttl = options.ttlSeconds === undefined ? host.defaultTtlMs : ttlToMs(options.ttlSeconds)
    if (
      options.tags === undefined &&
      options.lock === undefined &&
      options.refreshAheadSeconds === undefined &&
      options.graceBackoffSeconds === undefined &&
      options.hardTimeoutMs === undefined &&
      options.maxConcurrent === undefined &&
      options.ttlJitter === undefined
    ) {
      return this.#plain(ttl)
    }
    const ops = host.ops
    if (options.tags !== undefined) ops.checkTagged('cache.getOrSet(key, factory, { tags })')
    const resilience =
      options.lock === undefined && options.hardTimeoutMs === undefined
        ? undefined
        : resolveResilience({ lock: options.lock, hardTimeoutMs: options.hardTimeoutMs }, ttl, {
            storageType: ops.storageType,
            isSync: ops.sync !== undefined,
            locks: host.locks,
          })
    return {
      ttlMs: ttl,
      tags: checkWriteTags(options.tags, 'cache.getOrSet(key, factory, { tags })'),
      resilience,
      ahead:
        options.refreshAheadSeconds === undefined && options.graceBackoffSeconds === undefined
          ? undefined
          : resolveRefreshAhead(options, ttl, 'argument'),
      bulkhead:
        options.maxConcurrent === undefined
          ? undefined
          : resolveMaxConcurrent(
              options.maxConcurrent,
              host.scopes,
              undefined,
              'getOrSet',
              resilience?.hardTimeoutMs,
              resilience?.lock,
              ops.storageType,
              'argument',
            ),
      jitter: resolveJitter(options.ttlJitter, 'argument'),
    }
  }

  /**
   * The async call. A hit answered without I/O (a synchronous storage, a local-tier copy) costs one
   * resolved promise: the options are checked but not built (only refresh ahead needs them on a hit).
   */
  run<V>(ref: EntryRef, factory: Factory<V>, raw: LoaderOptions | undefined): Promise<V> {
    let options = this.#checked(raw)
    const ops = this.#host.ops
    const cached = ops.sync !== undefined ? ops.readSync(ref, true) : ops.readNow(ref, true)
    if (cached !== MISS && cached !== LATER) {
      if (options?.ahead !== undefined) this.#hit(ref, cached, factory, options)
      return Promise.resolve(cached as V)
    }
    options ??= this.options(raw)
    // A scope without the bulkhead's level fails this call only, before it joins another's flight.
    if (options.bulkhead !== undefined) this.#bulkheads().tenantOf(options.bulkhead, ref.scope, 'getOrSet')
    const id = encodeEntryRef(ref)
    const running = ops.flights.join(id)
    if (running !== undefined) return this.#deadline(running, options) as Promise<V>
    if (cached === MISS) {
      return this.#deadline(this.#flight(id, ref, factory, options, undefined), options) as Promise<V>
    }
    return this.#afterRead(ref, id, factory, options) as Promise<V>
  }

  /**
   * Checks `raw` without building anything when it has a TTL at most (the usual call); answers the
   * built options when it has more, else `undefined`.
   */
  #checked(raw: LoaderOptions | undefined): CallOptions | undefined {
    if (raw === undefined || raw === null) return undefined
    if (
      raw.tags === undefined &&
      raw.lock === undefined &&
      raw.refreshAheadSeconds === undefined &&
      raw.graceBackoffSeconds === undefined &&
      raw.hardTimeoutMs === undefined &&
      raw.maxConcurrent === undefined &&
      raw.ttlJitter === undefined
    ) {
      if (raw.ttlSeconds !== undefined) ttlToMs(raw.ttlSeconds)
      return undefined
    }
    return this.options(raw)
  }

  /** The sync call over a synchronous storage; the factory must answer synchronously. */
  runSync<V>(ref: EntryRef, factory: Factory<V>, raw: LoaderOptions | undefined): V {
    this.#checked(raw)
    const ops = this.#host.ops
    const cached = ops.readSync(ref, true)
    if (cached !== MISS) return cached as V
    const ctx = new Context(this.options(raw))
    const value = factory(ctx)
    ctx.done = true
    if (isThenable(value)) {
      throw new InvalidArgumentError(
        'cache.getOrSetSync(key, factory): the factory returned a Promise; use await cache.getOrSet(key, factory) for an async factory',
      )
    }
    if (!ctx.skipped) {
      const ttl = jittered(ctx.ttlMs, ctx.jitter)
      ops.writeSync(ref, value, ttl, true, ctx.tags === undefined ? undefined : { tags: ctx.tags })
    }
    return value
  }

  #bulkheads() {
    const ops = this.#host.ops
    return bulkheadsOf(this.#host, (operation, error) => ops.report(operation, error))
  }

  #plain(ttlMs: number | undefined): CallOptions {
    return { ttlMs, tags: undefined, resilience: undefined, ahead: undefined }
  }

  async #afterRead(
    ref: EntryRef,
    id: string,
    factory: Factory<unknown>,
    options: CallOptions,
  ): Promise<unknown> {
    const flights = this.#host.ops.flights
    const ticket = flights.beginRead(id)
    let cached: unknown
    let finished: Promise<unknown> | undefined
    try {
      cached = await this.#host.ops.fetch(ref, true)
    } finally {
      finished = flights.endRead(id, ticket)
    }
    if (cached !== MISS) return this.#hit(ref, cached, factory, options)
    const joined = flights.join(id) ?? finished
    if (joined !== undefined) return this.#deadline(joined, options)
    return this.#deadline(this.#flight(id, ref, factory, options, undefined), options)
  }

  /** A hit; with refresh ahead, starts the background refresh when it is due. */
  #hit(ref: EntryRef, cached: unknown, factory: Factory<unknown>, options: CallOptions): unknown {
    const ahead = options.ahead
    if (ahead === undefined || ahead.aheadMs === 0 || this.#refreshAt.size === 0) return cached
    const id = encodeEntryRef(ref)
    const at = this.#refreshAt.get(id)
    const now = Date.now()
    if (at === undefined || now < at) return cached
    const flights = this.#host.ops.flights
    const refreshId = refreshFlightId(id)
    const backoff = this.#backoff(ahead.backoffMs)
    if (flights.join(refreshId) !== undefined || !backoff.allows(refreshId, now)) return cached
    this.#flight(refreshId, ref, factory, options, backoff).catch((error: unknown) => {
      this.#host.ops.report(
        'refresh',
        new RefreshError(
          'getOrSet',
          error,
          'the current value is served until it expires',
          `getOrSet(${JSON.stringify(ref.key)})`,
        ),
      )
    })
    return cached
  }

  #backoff(pauseMs: number): RefreshBackoff {
    let backoff = this.#backoffs.get(pauseMs)
    if (backoff === undefined) this.#backoffs.set(pauseMs, (backoff = new RefreshBackoff(pauseMs)))
    return backoff
  }

  /**
   * Runs the factory as the single flight `id` and stores its result under `ref` (unless skipped, the
   * fence is lost, or an eviction detached the flight). `background`: a refresh ahead, which under
   * `lock` does not wait for another process (it is refreshing already); its backoff is updated
   * before the flight ends, so no hit in between starts another refresh.
   */
  #flight(
    id: string,
    ref: EntryRef,
    factory: Factory<unknown>,
    options: CallOptions,
    background: RefreshBackoff | undefined,
  ): Promise<unknown> {
    const ops = this.#host.ops
    const report = (operation: string, error: unknown): void => ops.report(operation, error)
    const lock = options.resilience?.lock
    const session = lock && new LockSession(lock.locks, lock.ttlMs, report)
    const ctx = new Context(options)
    let fence: WriteFence | typeof LOST | undefined
    let computed = true
    const plan = options.bulkhead
    const wait: SlotWait | undefined = plan && { overload: undefined }
    const work = async (): Promise<unknown> => {
      if (session !== undefined) {
        if (background !== undefined) {
          let acquired = true
          try {
            acquired = await session.acquire(ref)
          } catch (error) {
            report('lock', error)
          }
          if (!acquired) {
            computed = false
            return SKIP
          }
        } else {
          const found = await waitForTurn(session, ref, lock!.waitMs, () => ops.peek(ref), MISS, report)
          if (found !== MISS) {
            computed = false
            return found
          }
        }
      }
      let slot: { release(): void } | undefined
      if (plan !== undefined) {
        const bulkheads = this.#bulkheads()
        const tenant = bulkheads.tenantOf(plan, ref.scope, 'getOrSet')
        slot = await bulkheads.enter(plan, tenant, 'getOrSet', background !== undefined, wait)
        if (slot === undefined) {
          computed = false
          return SKIP // a refresh ahead with the bulkhead full
        }
      }
      try {
        if (ops.fence !== undefined) {
          try {
            fence = await ops.fence(ref)
          } catch (error) {
            report('fence', error) // the factory still answers; its result is not stored
            fence = LOST
          }
        }
        return await factory(ctx)
      } finally {
        ctx.done = true
        slot?.release()
      }
    }
    const pending =
      background === undefined
        ? work()
        : work().then(
            (value) => (background.succeeded(id), value),
            (error: unknown) => {
              background.failed(id)
              throw error
            },
          )
    const flight = ops.flights.start(id, pending, async (value) => {
      if (computed && !ctx.skipped && fence !== LOST) await this.#store(ref, value, ctx, options, fence)
      await session?.release()
    })
    if (session !== undefined) {
      const end = () => void session.release()
      flight.then(end, end)
    }
    if (wait !== undefined) trackWait(flight, wait)
    return flight
  }

  async #store(
    ref: EntryRef,
    value: unknown,
    ctx: Context,
    options: CallOptions,
    fence: WriteFence | undefined,
  ): Promise<void> {
    const ops = this.#host.ops
    const write = ctx.tags === undefined ? undefined : { tags: ctx.tags }
    const ttl = jittered(ctx.ttlMs, ctx.jitter)
    if (ops.sync !== undefined) ops.writeSync(ref, value, ttl, true, write)
    else await ops.write(ref, value, ttl, true, fence, write)
    const ahead = options.ahead
    if (ahead !== undefined && ahead.aheadMs !== 0 && ttl !== undefined) {
      const times = this.#refreshAt
      const id = encodeEntryRef(ref)
      times.delete(id)
      if (times.size >= MAX_REFRESH_TIMES) times.delete(times.keys().next().value!)
      times.set(id, refreshAt(Date.now(), ttl, ahead.aheadMs))
    }
  }

  #deadline(pending: Promise<unknown>, options: CallOptions): Promise<unknown> {
    const ms = options.resilience?.hardTimeoutMs
    return ms === undefined ? pending : withDeadline(pending, ms, 'getOrSet')
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Throws an `InvalidArgumentError` unless `factory` is a function. */
export function checkFactory(operation: string, factory: unknown): void {
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError(
      `cache.${operation}(key, factory): factory must be a function such as (ctx) => load(), got ${factory === null ? 'null' : typeof factory}`,
    )
  }
}
