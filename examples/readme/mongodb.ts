// The README's "MongoDB": one document per entry, scope eviction on an indexed array.
// #region mongodb
import { Cache, MaxItemsEvict } from 'cacheado'
import { MongoDBStorage } from 'cacheado/mongodb'

const mongoUrl = process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017'
const cache = new Cache({
  storage: new MongoDBStorage({ url: mongoUrl, dbName: 'myapp', collectionName: 'cache' }),
  // or { client } / { collection } you already have: the cache never closes or drops them
  rules: [new MaxItemsEvict({ maxItems: 1_000, per: 'organization' })],
})

const acme = { scope: 'organization', orgId: 'acme' } as const
await cache.set('plan', 'pro', { ...acme, ttlSeconds: 3600 })
const plan = await cache.get('plan', acme) // 'pro'
const removed = await cache.evictByScope('organization', { orgId: 'acme' }) // one deleteMany
// #endregion

export const result = { plan, removed }
await cache.clear()
await cache.close()
