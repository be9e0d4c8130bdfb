// The README's "Stats per tenant": the busiest tenants and memoized functions, in bounded memory.
import { Cache } from 'cacheado'

/** 10 000 requests: acme on every one, globex on every 2nd, initech on every 4th, a new tenant on each. */
function simulateTraffic(cache: Cache) {
  const org = (orgId: string) => ({ scope: 'organization', orgId }) as const
  for (let i = 0; i < 10_000; i++) {
    if (cache.getSync('plan', org('acme')) === undefined) cache.setSync('plan', 'enterprise', org('acme'))
    if (i % 2 === 0) cache.getSync('plan', org('globex'))
    if (i % 4 === 0) cache.getSync('plan', org('initech'))
    cache.getSync('plan', org(`trial-${i}`))
  }
  const price = cache.cache({ namespace: 'price' })((sku: string) => sku.length)
  price('abc')
  price('abc')
}

export function main(log: (line: string) => void = console.log) {
  // #region stats-breakdown
  const cache = new Cache({ stats: { topN: 10 } }) // 10 buckets per scope level, the rest in `other`
  simulateTraffic(cache) // acme on every request, globex on every 2nd, initech on every 4th, 10 000 one-offs
  const stats = cache.statsSync({ breakdown: true }) // or await cache.stats({ breakdown: true })
  const { top, other } = stats.byScope.organization!
  // top[0]: { scope: [{ level: 'organization', id: 'acme' }], label: 'acme', hits: 9999, misses: 1, ... }
  // top[1]: { label: 'globex', misses: 5000, ... }, top[2]: { label: 'initech', misses: 2500, ... }
  // other: { misses: 9993, ... }: the one-off tenants outside the top 10, added up
  // #endregion

  for (const t of top.slice(0, 3)) log(`${t.label}: ${t.hits} hits, ${t.misses} misses, ${t.sets} sets`)
  log(`everyone else: ${other.hits} hits, ${other.misses} misses`)
  for (const f of stats.byNamespace!.top)
    log(`memoized ${f.namespace}: ${f.hits} hit(s), ${f.misses} miss(es)`)
  return stats
}
