/**
 * The ambient scope parameters of a cache at this moment, for adapters bound to a level only. It reads
 * `cache.currentScope()` where the cache has it (the ambient scope of `cache.runInScope`), so that the
 * adapter follows the request's tenant; where it does not, or outside any ambient scope, it answers
 * `undefined` and the adapter fails closed with a `ScopeError`.
 */
export function ambientParams(cache: object): Readonly<Record<string, unknown>> | undefined {
  const currentScope = (cache as { currentScope?: unknown }).currentScope
  if (typeof currentScope !== 'function') return undefined
  const params: unknown = currentScope.call(cache)
  return params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : undefined
}
