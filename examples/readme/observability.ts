// The original README's "Real-Time Metrics".
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  // #region stats
  const cache = new Cache()
  await cache.set('a', 1)
  await cache.get('a') // hit
  await cache.get('b') // miss
  await cache.evict('a')
  const stats = await cache.stats()
  // { hits: 1, misses: 1, sets: 1, evictions: 1, evictionsByReason: { explicit: 1, expired: 0, lru: 0,
  //   maxItems: 0, scope: 0, rule: 0 }, hitRate: 0.5, storageType: 'in_memory', totalKeys: 0 }
  // #endregion
  log(`stats: ${JSON.stringify(stats)}`)
  return stats
}
