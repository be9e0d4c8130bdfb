import type { Operations } from '../operations/pipeline.js'
import { LATER } from '../operations/pipeline.js'
import type { EntryRef } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import type { Envelope } from './envelope.js'
import { isEnvelope, isStale, NEVER_STALE, staleAtOf } from './envelope.js'
import type { CallMetadata, CallTier, HandleFactory } from './handle.js'

/**
 * The flight id of the background refresh of a memoized entry (`ref`): an eviction of the entry
 * detaches it along with the entry's own flight.
 */
export const memoRefreshFlightId = (ref: EntryRef): string =>
  encodeEntryRef({ scope: ref.scope, key: `#r${ref.key.slice(2)}` })

/** What the handle methods need from one memoized function (see memo-function.ts). */
export interface MemoCore {
  readonly ops: Operations
  readonly namespace: string
  /** The storage is synchronous. */
  readonly isSync: boolean
  /** Whether the function answers Promises (known from its kind, or since its first call). */
  isAsync(): boolean
  /** The fixed TTL, or undefined. */
  readonly ttlMs: number | undefined
  /** The TTL is chosen per result. */
  readonly ttlVaries: boolean
  refFor(args: unknown[]): EntryRef
  refreshNow(self: unknown, args: unknown[], ref: EntryRef): unknown
  answerEnvelope(self: unknown, args: unknown[], ref: EntryRef, cached: Envelope, asPromise: boolean): unknown
  missSync(self: unknown, args: unknown[], ref: EntryRef): unknown
  loadMiss(
    self: unknown,
    args: unknown[],
    ref: EntryRef,
    id: string,
    finished: Promise<unknown> | undefined,
  ): Promise<unknown>
  deadline(pending: Promise<unknown>): Promise<unknown>
}

/**
 * The handle methods (`evict`, `refresh`, `peek`, `withMetadata`) of one memoized function, for a given
 * `this`. Each answers as the function does: directly for a sync function over a sync storage, else a
 * Promise (errors reject).
 */
export function handleMethods(core: MemoCore): HandleFactory {
  const { ops, namespace, isSync, ttlMs, ttlVaries } = core
  const flights = ops.flights

  const answer = <T>(body: () => T | Promise<T>): T | Promise<T> => {
    if (isSync && !core.isAsync()) return body()
    try {
      return Promise.resolve(body())
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** The `expiresAt` of a value the function just computed (with a fixed TTL; else unknown). */
  const computedExpiry = (): number | null | undefined =>
    ttlVaries ? undefined : ttlMs === undefined ? null : Date.now() + ttlMs
  const storedTier: CallTier = isSync ? 'memory' : 'shared'
  const missMeta = (value: unknown): CallMetadata<unknown> => ({
    value,
    status: 'miss',
    tier: storedTier,
    expiresAt: computedExpiry(),
  })
  const hitMeta = (
    self: unknown,
    args: unknown[],
    ref: EntryRef,
    cached: unknown,
    tier: CallTier,
  ): CallMetadata<unknown> => {
    if (!isEnvelope(cached)) {
      return {
        value: cached,
        status: 'hit',
        tier,
        expiresAt: ttlMs === undefined && !ttlVaries ? null : undefined,
      }
    }
    const staleAt = staleAtOf(cached)
    const stale = isStale(cached, Date.now())
    const value = core.answerEnvelope(self, args, ref, cached, false)
    return {
      value,
      status: stale ? 'stale' : 'hit',
      tier,
      expiresAt: staleAt === NEVER_STALE ? null : staleAt,
    }
  }

  const metadataAsync = async (
    self: unknown,
    args: unknown[],
    ref: EntryRef,
  ): Promise<CallMetadata<unknown>> => {
    const id = encodeEntryRef(ref)
    const running = flights.join(id)
    if (running !== undefined) return missMeta(await core.deadline(running))
    const ticket = flights.beginRead(id)
    let cached: unknown
    let tier: CallTier = 'local'
    let finished: Promise<unknown> | undefined
    try {
      cached = ops.readNow(ref, true)
      if (cached === LATER) {
        tier = 'shared'
        cached = await ops.fetch(ref, true)
      }
    } finally {
      finished = flights.endRead(id, ticket)
    }
    if (cached !== MISS) return hitMeta(self, args, ref, cached, tier)
    return missMeta(await core.loadMiss(self, args, ref, id, finished))
  }

  const unwrap = (stored: unknown) => (stored === MISS ? undefined : isEnvelope(stored) ? stored.v : stored)

  return (self) => ({
    evict: (...args: unknown[]) =>
      answer(() => {
        ops.checkOpen(namespace)
        const ref = core.refFor(args)
        // A computation of this entry (or its background refresh) running now must not store after it:
        // the delete detaches both (and waits for a write already on its way, see Operations.delete).
        return ops.delete(ref, [memoRefreshFlightId(ref)])
      }),
    refresh: (...args: unknown[]) =>
      answer(() => {
        ops.checkOpen(namespace)
        return core.refreshNow(self, args, core.refFor(args))
      }),
    peek: (...args: unknown[]) =>
      answer(() => {
        ops.checkOpen(namespace)
        const ref = core.refFor(args)
        if (!isSync) return ops.peek(ref).then(unwrap)
        try {
          return unwrap(ops.sync!.get(ref))
        } catch (error) {
          ops.report('get', error)
          return undefined
        }
      }),
    withMetadata: (...args: unknown[]) =>
      answer(() => {
        ops.checkOpen(namespace)
        const ref = core.refFor(args)
        if (!isSync) return metadataAsync(self, args, ref)
        const cached = ops.readSync(ref, true)
        if (cached !== MISS) return hitMeta(self, args, ref, cached, 'memory')
        const value = core.missSync(self, args, ref)
        return core.isAsync() ? Promise.resolve(value).then(missMeta) : missMeta(value)
      }),
  })
}
