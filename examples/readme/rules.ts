// The README's "Rules": bounds, per-tenant quotas, TTL sweeping and a custom hook.
// #region rules
import { Cache, LifeTimeEvict, LRUEvict, MaxItemsEvict, type CacheRule } from 'cacheado'

// A custom rule: an entry whose key starts with 'once:' is removed after its first hit
const readOnce: CacheRule = {
  name: 'readOnce',
  onGet: ({ ref, hit }) => (hit && ref.key.startsWith('once:') ? [{ type: 'evict', ref }] : []),
}

const cache = new Cache({
  rules: [
    new LRUEvict({ maxItems: 50_000 }), // the whole cache
    new LRUEvict({ maxItems: 100, per: 'user' }), // each user (with their sessions), separately
    new MaxItemsEvict({ maxItems: 1_000, per: 'organization' }), // oldest written first
    new LifeTimeEvict({ sweepIntervalSeconds: 5 }), // reclaims expired entries nobody reads
    readOnce,
  ],
})

const user = (userId: string) => ({ scope: 'user', orgId: 'acme', userId }) as const
for (let i = 0; i < 150; i++) cache.setSync(`item:${i}`, i, user('noisy'))
cache.setSync('item:0', 'kept', user('quiet'))
cache.setSync('once:token', 'abc', user('quiet'))
const token = cache.getSync('once:token', user('quiet')) // 'abc', then the rule removes it
// #endregion

export const result = {
  token,
  tokenAgain: cache.getSync('once:token', user('quiet')),
  quiet: cache.getSync('item:0', user('quiet')),
  noisyOldest: cache.getSync('item:0', user('noisy')),
  noisyNewest: cache.getSync('item:149', user('noisy')),
  stats: cache.statsSync(),
}
await cache.close()
