// The README's "Redis and Redis Cluster": a cache shared by every process that uses the same prefix.
// #region redis
import { Cache, LRUEvict } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const cache = new Cache({
  storage: new RedisStorage({ url: redisUrl, prefix: 'myapp' }),
  // Redis Cluster: new RedisStorage({ cluster: [{ host: '10.0.0.1', port: 7000 }], prefix: 'myapp' })
  // Your own ioredis client (close() leaves it open): new RedisStorage({ client, prefix: 'myapp' })
  rules: [new LRUEvict({ maxItems: 100, per: 'user' })], // enforced in Redis, across processes
})

const ann = { scope: 'user', orgId: 'acme', userId: 'ann' } as const
await cache.set('profile', { plan: 'pro', since: new Date(0) }, { ...ann, ttlSeconds: 600 })
const profile = await cache.get('profile', ann) // a Date comes back as a Date
const removed = await cache.evictByScope('organization', { orgId: 'acme' }) // reads one index, no SCAN
// #endregion

export const result = { profile, removed }
await cache.clear()
await cache.close()
