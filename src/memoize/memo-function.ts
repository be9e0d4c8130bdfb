import { InvalidArgumentError, RefreshError } from '../errors.js'
import { ArgsKeyCache } from '../keys/args-key-cache.js'
import { memoKeyPrefix } from '../keys/entry-key.js'
import type { HandleSlot } from '../operations/pipeline.js'
import { LATER } from '../operations/pipeline.js'
import type { ResolvedLevel } from '../scopes/scope-config.js'
import { EMPTY_PATH } from '../scopes/scope-config.js'
import { resolveWith } from '../scopes/resolve.js'
import type { ScopeId } from '../scopes/scope-level.js'
import type { EntryRef, WriteFence } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import { MAX_TTL_SECONDS } from '../ttl.js'
import type { BulkheadPlan, SlotWait } from './bulkhead.js'
import { bulkheadsOf, trackWait } from './bulkhead.js'
import type { Envelope } from './envelope.js'
import { isEnvelope, isRefreshDue, isStale, NEVER_STALE, wrapEnvelope } from './envelope.js'
import { attachHandle } from './handle.js'
import { jittered } from './jitter.js'
import { handleMethods, memoRefreshFlightId } from './handle-methods.js'
import type { MemoHost } from './host.js'
import { LockSession, waitForTurn } from './lock-session.js'
import type { Resilience } from './resilience.js'
import { preferFresh, SKIPPED, withDeadline } from './timeouts.js'
import type { RefreshAhead } from './write-options.js'
import { checkWriteTags, RefreshBackoff, refreshAt, resultTtlMs } from './write-options.js'

/** A memoizer's options, validated (see `MemoizeOptions` for their meaning). */
export interface ResolvedMemoOptions {
  readonly namespace: string
  /** The fixed TTL (the memoizer's or the cache's default), or undefined. */
  readonly ttlMs: number | undefined
  /** A TTL chosen per result (`ttlSeconds` given as a function), replacing `ttlMs`. */
  readonly ttlOf: ((result: unknown, ...args: unknown[]) => unknown) | undefined
  readonly tagsOf: ((...args: unknown[]) => unknown) | undefined
  readonly level: ResolvedLevel
  readonly resilience: Resilience
  readonly ahead: RefreshAhead
  readonly key: ((...args: unknown[]) => unknown) | undefined
  readonly scopeParams: ((...args: unknown[]) => Readonly<Record<string, ScopeId | undefined>>) | undefined
  /** An explicit scope parameter may differ from the ambient one (see `MemoizeOptions.crossScope`). */
  readonly crossScope: boolean
  /** `maxConcurrent`, validated; undefined: no bulkhead. */
  readonly bulkhead?: BulkheadPlan
  /** `ttlJitter` (0: none). */
  readonly jitter?: number
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

/** How one computed result is written: its TTL and the tags it carries. */
interface WriteMeta {
  readonly ttlMs: number | undefined
  /** Handed to the write; storing them needs the storage's tags capability. */
  readonly tags: readonly string[] | undefined
}

/** What a load produced: a value from the function (to store) or from the storage (already stored). */
interface Outcome {
  readonly value: unknown
  readonly computed: boolean
  /** How to store a computed value. */
  readonly fence?: Fence
  /** The TTL and tags of a computed value. */
  readonly meta?: WriteMeta
}

/** No usable value (a miss, or only a stale one). */
const NONE: unique symbol = Symbol('cacheado.none')

const MAX_TTL_MS = MAX_TTL_SECONDS * 1000

/** The turn a sync function's refresh runs on (unref'd: nobody awaits it). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve).unref())

/** The memoized function of `fn`, with its handle methods attached. */
export function memoize(
  host: MemoHost,
  fn: (...args: unknown[]) => unknown,
  options: ResolvedMemoOptions,
): (...args: unknown[]) => unknown {
  const prefix = memoKeyPrefix(options.namespace)
  const { level, ttlMs, ttlOf, tagsOf, key: deriveKey, scopeParams, namespace } = options
  const crossScope = options.crossScope
  const { lock, graceMs, softTimeoutMs, hardTimeoutMs } = options.resilience
  const { aheadMs } = options.ahead
  const backoff = new RefreshBackoff(options.ahead.backoffMs)
  const ops = host.ops
  const flights = ops.flights
  const isSync = ops.sync !== undefined
  const report = (operation: string, error: unknown): void => ops.report(operation, error)
  let isAsync = fn.constructor?.name === 'AsyncFunction'
  /** Entries carry their staleness (grace) or refresh time (refresh ahead) in an envelope. */
  const enveloped = graceMs !== 0 || aheadMs !== 0
  const FIXED: WriteMeta = { ttlMs, tags: undefined }
  const { bulkhead, jitter = 0 } = options
  const bulkheads = bulkhead === undefined ? undefined : bulkheadsOf(host, report)

  const keys = new ArgsKeyCache(prefix)
  // Global scope: the whole ref depends on the arguments only, so it is reused (refs are immutable),
  // with the storage handle of its entry (a sync hit then skips the key lookup, see readSyncCached).
  const globalSlots =
    level.path.length === 0
      ? new ArgsKeyCache<HandleSlot>(prefix, undefined, (key) => ({
          ref: { scope: EMPTY_PATH, key },
          handle: undefined,
        }))
      : undefined
  /** Hits through handles: a sync storage offering them, a memoizer of the global scope. */
  const slotted = globalSlots !== undefined && ops.sync?.getByHandle !== undefined

  const refFor = (args: unknown[]): EntryRef => {
    const keyArgs = deriveKey === undefined ? args : [deriveKey(...args)]
    if (globalSlots !== undefined) return globalSlots.of(keyArgs).ref
    const keyPart = keys.of(keyArgs)
    const params = scopeParams?.(...args)
    if (scopeParams !== undefined && (params === null || typeof params !== 'object')) {
      throw new InvalidArgumentError(`scopeParams of ${namespace} must return an object of scope parameters`)
    }
    const lookup =
      params !== undefined ? (name: string) => params[name] : (name: string) => paramFromArgs(args, name)
    return { scope: resolveWith(level, lookup, crossScope), key: keyPart }
  }

  /**
   * The TTL and tags of a result: the fixed ones, or what the `ttlSeconds`/`tags` functions answer
   * (they throw, or a bad answer is an `InvalidArgumentError`: the call rejects and nothing is stored).
   */
  const writeMetaFor = (value: unknown, args: unknown[]): WriteMeta => {
    if (ttlOf === undefined && tagsOf === undefined) return FIXED
    return {
      ttlMs: ttlOf === undefined ? ttlMs : resultTtlMs(ttlOf(value, ...args), `ttlSeconds of ${namespace}`),
      tags: tagsOf === undefined ? undefined : checkWriteTags(tagsOf(...args), `tags of ${namespace}`),
    }
  }

  /** Stores a result the function computed (in an envelope under grace or refresh ahead), through `fence`. */
  const store = (ref: EntryRef, value: unknown, fence: Fence, meta: WriteMeta): void | Promise<void> => {
    if (fence === LOST) return
    const ttl = jitter === 0 ? meta.ttlMs : jittered(meta.ttlMs, jitter)
    let stored = value
    if (enveloped) {
      const now = Date.now()
      stored = wrapEnvelope(value, now + ttl!, aheadMs === 0 ? undefined : refreshAt(now, ttl!, aheadMs))
    } else if (isEnvelope(value)) stored = wrapEnvelope(value, NEVER_STALE) // a result shaped like an envelope
    // Under a grace period the storage keeps entries `ttl + grace`; staleness is in the envelope.
    const storedTtl = graceMs === 0 || ttl === undefined ? ttl : Math.min(ttl + graceMs, MAX_TTL_MS)
    const write = meta.tags === undefined ? undefined : { tags: meta.tags }
    if (fence !== UNFENCED) return ops.write(ref, stored, storedTtl, true, fence, write)
    return isSync
      ? ops.writeSync(ref, stored, storedTtl, true, write)
      : ops.write(ref, stored, storedTtl, true, undefined, write)
  }

  /**
   * Runs `call` for a result to store. With `maxConcurrent` it takes a slot of the call's tenant first
   * (a background refresh that finds none is skipped). Over a storage with fences, the fence is taken
   * next: a result is never written after an eviction (by any process) applied while it was computed.
   */
  const compute = async (
    ref: EntryRef,
    call: () => unknown,
    args: unknown[],
    wait?: SlotWait,
    background = false,
  ): Promise<Outcome> => {
    const slot =
      bulkheads === undefined
        ? undefined
        : await bulkheads.enter(
            bulkhead!,
            bulkheads.tenantOf(bulkhead!, ref.scope, namespace),
            namespace,
            background,
            wait,
          )
    if (slot === undefined && bulkheads !== undefined) return { value: SKIPPED, computed: false }
    try {
      let fence: Fence = UNFENCED
      if (ops.fence !== undefined) {
        try {
          fence = await ops.fence(ref)
        } catch (error) {
          report('fence', error) // the function still answers; its result is not stored
          fence = LOST
        }
      }
      const value = await call()
      return { value, computed: true, fence, meta: writeMetaFor(value, args) }
    } finally {
      slot?.release()
    }
  }

  /** The fresh value in what the storage returned, or NONE. */
  const usable = (stored: unknown): unknown => {
    if (stored === MISS) return NONE
    if (!isEnvelope(stored)) return stored
    return isStale(stored, Date.now()) ? NONE : stored.v
  }

  /** A value another process refreshed ahead: fresh and not yet due for a refresh itself. */
  const refreshedElsewhere = (stored: unknown): unknown => {
    const value = usable(stored)
    return value !== NONE && isEnvelope(stored) && isRefreshDue(stored, Date.now()) ? NONE : value
  }

  const deadline = (pending: Promise<unknown>): Promise<unknown> =>
    hardTimeoutMs === undefined ? pending : withDeadline(pending, hardTimeoutMs, namespace)

  /** Runs `pending` as the single flight `id` (the encoded `ref`), storing its result plainly. */
  const settle = (
    ref: EntryRef,
    id: string,
    pending: PromiseLike<unknown>,
    args: unknown[],
  ): Promise<unknown> => {
    if (ttlOf === undefined && tagsOf === undefined) {
      return flights.start(id, pending, (value) => store(ref, value, UNFENCED, FIXED))
    }
    let meta = FIXED
    const measured = Promise.resolve(pending).then((value) => {
      meta = writeMetaFor(value, args)
      return value
    })
    return flights.start(id, measured, (value) => store(ref, value, UNFENCED, meta))
  }

  /**
   * Starts a single flight under `id` whose work may hold the entry's lock (released once the flight
   * stored its value) and may find the value in the storage instead of computing it (not stored again).
   */
  const startFlight = (
    id: string,
    ref: EntryRef,
    work: (session: LockSession | undefined, wait: SlotWait | undefined) => Promise<Outcome>,
  ): Promise<unknown> => {
    const session = lock && new LockSession(lock.locks, lock.ttlMs, report)
    const wait: SlotWait | undefined = bulkhead && { overload: undefined }
    let outcome: Outcome | undefined
    const pending = work(session, wait).then((result) => {
      outcome = result
      return result.value
    })
    // The lock is released once the value is stored, before the callers get it; a flight that failed
    // or was invalidated (nothing stored) releases it as it ends.
    const flight = flights.start(id, pending, async (value) => {
      if (outcome!.computed) await store(ref, value, outcome!.fence ?? UNFENCED, outcome!.meta ?? FIXED)
      await session?.release()
    })
    if (session !== undefined) {
      const end = () => void session.release()
      flight.then(end, end)
    }
    if (wait !== undefined) trackWait(flight, wait)
    return flight
  }

  const readUsable = (ref: EntryRef) => () => ops.peek(ref).then(usable)
  const nothing = () => Promise.resolve(NONE)

  /** A miss: under `lock`, wait for another process's result first. */
  const missWork =
    (ref: EntryRef, call: () => unknown, args: unknown[]) =>
    async (session: LockSession | undefined, wait: SlotWait | undefined): Promise<Outcome> => {
      if (session !== undefined) {
        const found = await waitForTurn(session, ref, lock!.waitMs, readUsable(ref), NONE, report)
        if (found !== NONE) return { value: found, computed: false }
      }
      return compute(ref, call, args, wait)
    }

  /** `fn.refresh()`: under `lock`, wait for the lock (not for the stored value: it is the old one). */
  const refreshNowWork =
    (ref: EntryRef, call: () => unknown, args: unknown[]) =>
    async (session: LockSession | undefined, wait: SlotWait | undefined): Promise<Outcome> => {
      if (session !== undefined) await waitForTurn(session, ref, lock!.waitMs, nothing, NONE, report)
      return compute(ref, call, args, wait)
    }

  /**
   * A background refresh (stale entry, or refresh ahead). Under `lock` it never waits: if another
   * process holds the lock, it is refreshing, and this one keeps serving what it has.
   */
  const backgroundWork =
    (ref: EntryRef, call: () => unknown, args: unknown[]) =>
    async (session: LockSession | undefined): Promise<Outcome> => {
      if (session !== undefined) {
        let acquired = true
        try {
          acquired = await session.acquire(ref)
        } catch (error) {
          report('lock', error)
        }
        if (!acquired) return { value: SKIPPED, computed: false }
        const found = refreshedElsewhere(await ops.peek(ref))
        if (found !== NONE) return { value: found, computed: false }
      }
      return compute(ref, call, args, undefined, true)
    }

  /**
   * Starts one background refresh of `ref` (its own single flight, so callers are not held by it),
   * unless one runs or the key's last refresh failed within the backoff. A failure is an `error` event.
   */
  const refreshInBackground = (
    ref: EntryRef,
    call: () => unknown,
    args: unknown[],
    stale: boolean,
  ): Promise<unknown> | undefined => {
    const refreshId = memoRefreshFlightId(ref)
    let refresh = flights.join(refreshId)
    if (refresh === undefined && backoff.allows(refreshId, Date.now())) {
      const work = backgroundWork(ref, call, args)
      // The backoff starts before the flight ends, so no hit in between starts another refresh.
      refresh = startFlight(refreshId, ref, (session) =>
        work(session).then(
          (outcome) => (backoff.succeeded(refreshId), outcome),
          (error: unknown) => {
            backoff.failed(refreshId)
            throw error
          },
        ),
      )
      refresh.catch((error: unknown) =>
        report(
          'refresh',
          new RefreshError(
            namespace,
            error,
            stale
              ? 'the stale value is served until its grace period ends'
              : 'the current value is served until it expires',
          ),
        ),
      )
    }
    return refresh
  }

  /**
   * A stale hit within the grace period: refresh in the background, then answer the stale value, or
   * with `softTimeoutMs` the refreshed one if it arrives in time.
   */
  const serveStale = (
    ref: EntryRef,
    stale: unknown,
    call: () => unknown,
    args: unknown[],
    asPromise: boolean,
  ): unknown => {
    const refresh = refreshInBackground(ref, call, args, true)
    if (!asPromise) return stale
    return softTimeoutMs === undefined || refresh === undefined
      ? Promise.resolve(stale)
      : preferFresh(refresh, stale, softTimeoutMs)
  }

  /** The call of `fn` a background refresh makes: a sync function's runs on a later turn. */
  const laterCall = (self: unknown, args: unknown[]) =>
    isSync && !isAsync ? () => nextTurn().then(() => fn.apply(self, args)) : () => fn.apply(self, args)

  /** A hit of an enveloped entry: fresh (maybe refreshed ahead in the background) or stale. */
  const answerEnvelope = (
    self: unknown,
    args: unknown[],
    ref: EntryRef,
    cached: Envelope,
    asPromise: boolean,
  ): unknown => {
    const now = Date.now()
    if (isStale(cached, now)) return serveStale(ref, cached.v, laterCall(self, args), args, asPromise)
    if (aheadMs !== 0 && isRefreshDue(cached, now))
      refreshInBackground(ref, laterCall(self, args), args, false)
    return asPromise ? Promise.resolve(cached.v) : cached.v
  }

  /** After a miss of an async storage: join a flight, or start one. */
  const loadMiss = (
    self: unknown,
    args: unknown[],
    ref: EntryRef,
    id: string,
    finished: Promise<unknown> | undefined,
  ) => {
    const joined = flights.join(id) ?? finished
    if (joined !== undefined) return deadline(joined)
    if (lock === undefined && ops.fence === undefined && bulkhead === undefined) {
      return deadline(settle(ref, id, Promise.resolve(fn.apply(self, args)), args))
    }
    return deadline(
      startFlight(
        id,
        ref,
        missWork(ref, () => fn.apply(self, args), args),
      ),
    )
  }

  /**
   * A miss of a sync storage: run the function (sync, or as a flight once it returned a Promise). With
   * `maxConcurrent`, a function known to be async runs behind the bulkhead (a sync one cannot overlap).
   */
  const missSync = (self: unknown, args: unknown[], ref: EntryRef): unknown => {
    const id = isAsync ? encodeEntryRef(ref) : undefined
    if (id !== undefined) {
      const running = flights.join(id)
      if (running !== undefined) return deadline(running)
      if (bulkhead !== undefined) {
        return deadline(
          startFlight(
            id,
            ref,
            missWork(ref, () => fn.apply(self, args), args),
          ),
        )
      }
    }
    const result = fn.apply(self, args)
    if (isThenable(result)) {
      isAsync = true
      return deadline(settle(ref, id ?? encodeEntryRef(ref), result, args))
    }
    void store(ref, result, UNFENCED, writeMetaFor(result, args))
    return result
  }

  let memoized: (this: unknown, ...args: unknown[]) => unknown
  if (!isSync) {
    memoized = async function memoizedAsync(this: unknown, ...args: unknown[]): Promise<unknown> {
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
        return answerEnvelope(this, args, ref, cached, true)
      }
      return loadMiss(this, args, ref, id, finished)
    }
  } else {
    // `arguments` rather than a rest parameter: a hit of a one-argument call allocates no array.
    memoized = function memoized(this: unknown): unknown {
      // eslint-disable-next-line prefer-rest-params
      const given = arguments
      let args: unknown[] | undefined
      let ref: EntryRef
      let slot: HandleSlot | undefined
      try {
        ops.checkOpen(namespace)
        if (slotted && deriveKey === undefined && given.length === 1) {
          ref = (slot = globalSlots!.ofOne(given[0])).ref
        } else {
          args = Array.from(given)
          if (slotted)
            ref = (slot = globalSlots!.of(deriveKey === undefined ? args : [deriveKey(...args)])).ref
          else ref = refFor(args)
        }
      } catch (error) {
        if (isAsync) return Promise.reject(error)
        throw error
      }
      const cached = slot !== undefined ? ops.readSyncCached(slot, true) : ops.readSync(ref, true)
      if (cached !== MISS) {
        if (!isEnvelope(cached)) return isAsync ? Promise.resolve(cached) : cached
        return answerEnvelope(this, args ?? [given[0]], ref, cached, isAsync)
      }
      return missSync(this, args ?? [given[0]], ref)
    }
  }

  /** `fn.refresh(...args)`: runs the function now (sharing a running flight of the entry). */
  const refreshNow = (self: unknown, args: unknown[], ref: EntryRef): unknown => {
    if (isSync && !isAsync) {
      const result = fn.apply(self, args)
      if (!isThenable(result)) {
        void store(ref, result, UNFENCED, writeMetaFor(result, args))
        return result
      }
      isAsync = true
      return deadline(settle(ref, encodeEntryRef(ref), result, args))
    }
    const id = encodeEntryRef(ref)
    const running = flights.join(id)
    if (running !== undefined) return deadline(running)
    return deadline(
      startFlight(
        id,
        ref,
        refreshNowWork(ref, () => fn.apply(self, args), args),
      ),
    )
  }

  const handle = handleMethods({
    ops,
    namespace,
    isSync,
    isAsync: () => isAsync,
    ttlMs,
    ttlVaries: ttlOf !== undefined,
    refFor,
    refreshNow,
    answerEnvelope,
    missSync,
    loadMiss,
    deadline,
  })
  attachHandle(memoized, handle)
  return memoized
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
