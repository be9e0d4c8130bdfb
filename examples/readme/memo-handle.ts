// The README's "Memoized function handle": evict, refresh, peek and withMetadata of one call; a
// decorated method's handle; refresh ahead.
import { Cache } from 'cacheado'

const db = {
  queries: 0,
  user: (id: string) => ({ id, name: `user ${id}`, version: ++db.queries }),
}
const cache = new Cache()

// #region handle
const getUser = cache.cache({ ttlSeconds: 600, refreshAheadSeconds: 60 })(async function getUser(id: string) {
  return db.user(id)
})

await getUser('u1') // runs the function
await getUser.peek('u1') // the cached value, or undefined; never runs the function
await getUser.withMetadata('u1') // { value, status: 'hit', tier: 'memory', expiresAt }
await getUser.refresh('u1') // runs it now and stores the new value
await getUser.evict('u1') // true: only this call's entry is gone

// A decorated method: its handle, for one instance
class Users {
  @cache.cache({ ttlSeconds: 600, namespace: 'Users.find' })
  async find(id: string) {
    return db.user(id)
  }
}
const users = new Users()
await users.find('u2')
await cache.memoized(users, 'find').evict('u2')
// #endregion

const metadata = await getUser.withMetadata('u3')
const hit = await getUser.withMetadata('u3')
const peeked = await getUser.peek('u1')
await cache.close()

export const result = { miss: metadata.status, hit: hit.status, tier: hit.tier, peeked, queries: db.queries }
