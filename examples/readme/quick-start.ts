// The README's "Quick start": runs as it is (top-level await), e.g. `npx tsx quick-start.ts`.
// #region quick-start
import { Cache } from 'cacheado'

// In memory, zero configuration; scopes: organization (orgId) > user (userId) > session (sessionId)
const cache = new Cache()

const alice = { scope: 'user', orgId: 'acme', userId: 'alice' } as const
await cache.set('settings', { theme: 'dark' }, { ...alice, ttlSeconds: 3600 })
const settings = await cache.get('settings', alice) // { theme: 'dark' }

// Memoization: results are stored per user; concurrent misses of one key run the function once
const getProfile = cache.cache({ scope: 'user', ttlSeconds: 600 })(async function getProfile(args: {
  orgId: string
  userId: string
}) {
  return { id: args.userId, plan: 'pro' } // your database query here
})
await getProfile({ orgId: 'acme', userId: 'alice' }) // runs getProfile
const profile = await getProfile({ orgId: 'acme', userId: 'alice' }) // from the cache

const removed = await cache.evictByScope('organization', { orgId: 'acme' }) // 2: everything of acme
const stats = await cache.stats() // { hits: 2, misses: 1, sets: 2, ..., totalKeys: 0 }
await cache.close()
// #endregion

export { settings, profile, removed, stats }
