// The README's "Two tiers": an in-process L1 in front of Redis, with a bus and a circuit breaker.
// #region tiers
import { Cache } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const cache = new Cache({
  storage: new RedisStorage({ url: redisUrl, prefix: 'myapp' }),
  local: { maxItems: 10_000, ttlSeconds: 60 }, // an L1 in every process; the bus is Redis pub/sub
})
cache.on('circuitOpen', ({ retryInMs }) => console.warn(`Redis is failing; retrying in ${retryInMs} ms`))

const alice = { scope: 'user', orgId: 'acme', userId: 'alice' } as const
await cache.set('profile', { plan: 'pro' }, { ...alice, ttlSeconds: 600 }) // other processes drop their copy
const profile = await cache.get('profile', alice) // from this process's L1: no round trip
// #endregion

export const result = { profile }
await cache.clear()
await cache.close()
