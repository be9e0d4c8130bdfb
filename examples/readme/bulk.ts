// The README's "Bulk reads and inspection": many keys in one round trip, and what a read found.
// #region bulk
import { Cache } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

const cache = new Cache({
  storage: new RedisStorage({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: 'bulk-demo' }),
})
const ann = { scope: 'user', orgId: 'acme', userId: 'ann' } as const

await cache.setMany(
  [
    { key: 'cart', value: ['book'] },
    { key: 'locale', value: 'fr', ttlSeconds: 3600 }, // an entry's own TTL wins over the call's
  ],
  { ...ann, ttlSeconds: 600 },
)
const [cart, locale, missing] = await cache.getMany(['cart', 'locale', 'nope'], ann) // one round trip
const cached = await cache.has('cart', ann) // true; not counted as a hit
const expires = await cache.expiresAt('locale', ann) // epoch ms; null: no expiry; undefined: absent
const read = await cache.getWithMetadata('cart', ann) // { value, status: 'hit', tier: 'shared', expiresAt }
const removed = await cache.evictMany(['cart', 'locale', 'nope'], ann) // 2: how many existed
// #endregion

export const result = { cart, locale, missing, cached, expires, read, removed }
await cache.clear()
await cache.close()
