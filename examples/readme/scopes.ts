// The README's "Scopes": a hierarchy of your own, checked by TypeScript and at run time.
// #region scopes
import { Cache, ScopeConfig, ScopeError, ScopeLevel } from 'cacheado'

const scopes = new ScopeConfig([
  new ScopeLevel('organization', 'orgId', [
    new ScopeLevel('department', 'deptId', [new ScopeLevel('user', 'userId')]),
  ]),
  new ScopeLevel('region', 'regionId'), // a second, independent tree
])
const cache = new Cache({ scopes })

const bob = { scope: 'user', orgId: 'acme', deptId: 'sales', userId: 'bob' } as const
cache.setSync('cart', ['book'], bob)
cache.setSync('rates', { eur: 1.08 }, { scope: 'region', regionId: 'eu' })
cache.setSync('motd', 'hello') // no scope: global

let message = ''
try {
  // @ts-expect-error deptId is missing: TypeScript says so, and at run time a ScopeError does
  cache.getSync('cart', { scope: 'user', orgId: 'acme', userId: 'bob' })
} catch (error) {
  if (error instanceof ScopeError) message = error.message // names the missing parameter
}
const removed = cache.evictByScopeSync('department', { orgId: 'acme', deptId: 'sales' }) // 1: bob's cart
// #endregion

export { message, removed }
export const left = cache.statsSync().totalKeys
