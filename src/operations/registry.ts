import type { Operations } from './pipeline.js'

/**
 * The pipeline of each cache, for integrations shipped with the library (`cacheado/keyv`) that address
 * entries below the configured scope levels. A WeakMap keyed by the cache: nothing is added to the
 * public surface of `Cache`, and a dropped cache is not kept alive.
 */
const pipelines = new WeakMap<object, Operations>()

/** Called once by the `Cache` constructor. */
export function registerOperations(owner: object, ops: Operations): void {
  pipelines.set(owner, ops)
}

/** The pipeline of `owner`, or `undefined` when it is not a `Cache` of this copy of the library. */
export function operationsOf(owner: object): Operations | undefined {
  return pipelines.get(owner)
}
