// The original README's "Scope-based Eviction": drop one organization, or one user, in one call.
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  const cache = new Cache()
  const alice = { scope: 'user', orgId: 'org_123', userId: 'user_456' } as const
  await cache.set('profile', { name: 'Alice' }, alice)
  await cache.set('cart', ['book'], {
    scope: 'session',
    orgId: 'org_123',
    userId: 'user_456',
    sessionId: 's1',
  })
  await cache.set('plan', 'pro', { scope: 'organization', orgId: 'org_123' })
  await cache.set('plan', 'free', { scope: 'organization', orgId: 'org_999' })

  const userRemoved = await cache.evictByScope('user', { orgId: 'org_123', userId: 'user_456' }) // profile + cart
  const orgRemoved = await cache.evictByScope('organization', { orgId: 'org_123' }) // plan
  const otherTenant = await cache.get('plan', { scope: 'organization', orgId: 'org_999' })
  log(
    `evictByScope(user) removed ${userRemoved}, evictByScope(organization) removed ${orgRemoved}; org_999 still has plan=${otherTenant}`,
  )
  return { userRemoved, orgRemoved, otherTenant }
}
