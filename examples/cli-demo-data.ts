/**
 * The data behind the README's `npx cacheado` transcript: 40 users of `acme` (a profile, settings with
 * a 10-minute TTL, a memoized order list with a 1-hour TTL), 12 of `globex` (a profile and a session
 * entry), one `initech` entry and one global entry.
 *
 *   node --import tsx examples/cli-demo-data.ts redis://127.0.0.1:6379
 *   node --import tsx examples/cli-demo-data.ts mongodb://127.0.0.1:27017
 */
import { Cache } from 'cacheado'
import type { StorageProvider } from 'cacheado'
import { MongoDBStorage } from 'cacheado/mongodb'
import { RedisStorage } from 'cacheado/redis'

const url = process.argv[2] ?? 'redis://127.0.0.1:6379'
const storage: StorageProvider = url.startsWith('mongodb')
  ? new MongoDBStorage({ url })
  : new RedisStorage({ url })
const cache = new Cache({ storage })
const orders = cache.cache({ namespace: 'orders', scope: 'user', ttlSeconds: 3600 })(
  async ({ userId }: { orgId: string; userId: string }) =>
    Array.from({ length: 5 }, (_, i) => ({ id: `${userId}-${i}`, total: 10 * i })),
)
for (let u = 1; u <= 40; u++) {
  const user = { scope: 'user', orgId: 'acme', userId: `u${u}` } as const
  await cache.set('profile', { name: `User ${u}`, email: `u${u}@acme.test`, roles: ['member'] }, user)
  await cache.set('settings', { theme: 'dark', locale: 'en' }, { ...user, ttlSeconds: 600 })
  await orders({ orgId: 'acme', userId: `u${u}` })
}
for (let u = 1; u <= 12; u++) {
  await cache.set('profile', { name: `Globex ${u}` }, { scope: 'user', orgId: 'globex', userId: `g${u}` })
  await cache.set(
    'session-state',
    { step: u },
    { scope: 'session', orgId: 'globex', userId: `g${u}`, sessionId: 's1', ttlSeconds: 900 },
  )
}
await cache.set('plan', { tier: 'enterprise', seats: 500 }, { scope: 'organization', orgId: 'initech' })
await cache.set('feature-flags', { newCheckout: true })
console.log('entries written:', (await cache.stats()).totalKeys)
await cache.close()
