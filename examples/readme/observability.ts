// The original README's "Real-Time Metrics".
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  const cache = new Cache()
  await cache.set('a', 1)
  await cache.get('a') // hit
  await cache.get('b') // miss
  await cache.evict('a')
  const stats = await cache.stats()
  log(`stats: ${JSON.stringify(stats)}`)
  return stats
}
