// The README's "getOrSet": inline caching in a request handler, with the factory deciding TTL and storing.
import { Cache } from 'cacheado'

const db = {
  queries: 0,
  async profile(userId: string) {
    db.queries++
    return userId === 'ghost' ? undefined : { id: userId, plan: 'pro' }
  },
}

// #region getOrSet
const cache = new Cache()

// Inline, in a request handler: nothing to register, works on every request
async function handleProfile(orgId: string, userId: string) {
  return cache.getOrSet(
    'profile',
    async (ctx) => {
      const profile = await db.profile(userId)
      if (profile === undefined) ctx.setTtl(5) // cache "not found" briefly
      if (userId === 'preview') ctx.skip() // answer without storing
      return profile ?? null
    },
    { scope: 'user', orgId, userId, ttlSeconds: 300, refreshAheadSeconds: 30 },
  )
}
// #endregion

const first = await handleProfile('acme', 'ann') // runs the factory
const again = await handleProfile('acme', 'ann') // from the cache
const together = await Promise.all([1, 2, 3].map(() => handleProfile('acme', 'bob'))) // one factory run
const ghost = await handleProfile('acme', 'ghost')
const stored = await cache.get('profile', { scope: 'user', orgId: 'acme', userId: 'ann' })
await cache.close()

export const result = { first, again, together, ghost, stored, queries: db.queries }
