import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The ambient scope parameters of the running async context: parameter name -> canonical id string
 * (`{ orgId: 'acme', userId: '42' }`). Frozen. A plain object for fast reads: a reader must take only
 * own string values (an inherited `constructor` is a function, never an id).
 */
export type AmbientFrame = Readonly<Record<string, string>>

/**
 * One store for the whole process, shared by every cache: middleware that sets the tenant once serves
 * every cache of the request, and each cache reads the parameters it knows by name. One store also
 * keeps the cost of async context propagation independent of the number of caches.
 */
const store = new AsyncLocalStorage<AmbientFrame>()

/** Set by the first `runInScope`: until then no resolution pays for a store lookup. */
let used = false

/** The ambient parameters of the running async context, or `undefined` outside every `runInScope`. */
export function ambientFrame(): AmbientFrame | undefined {
  return used ? store.getStore() : undefined
}

/** Runs `fn` with `frame` as the ambient scope (the caller has merged and checked it). */
export function runWithFrame<R>(frame: AmbientFrame, fn: () => R): R {
  used = true
  return store.run(frame, fn)
}
