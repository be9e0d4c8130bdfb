import { TimeoutError } from '../errors.js'
import { overloadOf } from './bulkhead.js'

/** Marks a refresh that did not run because another process holds the entry's lock. */
export const SKIPPED: unique symbol = Symbol('cacheado.refreshSkipped')

/**
 * Rejects with a {@link TimeoutError} (an `OverloadError` while `pending` waits for a `maxConcurrent`
 * slot) if `pending` has not settled after `ms`; otherwise settles like
 * it. `pending` itself keeps running (a memoized flight stores its result when it arrives). The timer
 * does not keep the process alive.
 */
export function withDeadline<T>(pending: Promise<T>, ms: number, namespace: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          // A flight still waiting for a bulkhead slot: the caller was refused for overload.
          overloadOf(pending, ms) ??
            new TimeoutError(
              'memoize',
              ms,
              `memoized ${namespace} did not answer within hardTimeoutMs (${ms} ms) and no cached value was available; its result will be stored when it arrives. Raise hardTimeoutMs, or add graceSeconds so a stale value can be served`,
              { namespace },
            ),
        ),
      ms,
    )
    timer.unref()
    pending.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/**
 * Resolves the refresh's value if it succeeds within `ms`, else `stale`: a failed or skipped refresh,
 * or one still running after `ms`, answers the stale value. Never rejects.
 */
export function preferFresh(refresh: Promise<unknown>, stale: unknown, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(stale), ms)
    timer.unref()
    refresh.then(
      (value) => {
        clearTimeout(timer)
        resolve(value === SKIPPED ? stale : value)
      },
      () => {
        clearTimeout(timer)
        resolve(stale)
      },
    )
  })
}
