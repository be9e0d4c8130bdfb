// The README's "Stats per tenant": the busiest tenants and memoized functions, in bounded memory.
import { Cache } from 'cacheado'

export function main(log: (line: string) => void = console.log) {
  const cache = new Cache({ stats: { topN: 10 } }) // 10 buckets per scope level, the rest in `other`
  const org = (orgId: string) => ({ scope: 'organization', orgId }) as const

  // 10 000 requests: acme on every one, globex on every 2nd, initech on every 4th, and a new trial
  // tenant on each (10 000 tenants seen once)
  for (let i = 0; i < 10_000; i++) {
    if (cache.getSync('plan', org('acme')) === undefined) cache.setSync('plan', 'enterprise', org('acme'))
    if (i % 2 === 0) cache.getSync('plan', org('globex'))
    if (i % 4 === 0) cache.getSync('plan', org('initech'))
    cache.getSync('plan', org(`trial-${i}`))
  }
  const price = cache.cache({ namespace: 'price' })((sku: string) => sku.length)
  price('abc')
  price('abc')

  const stats = cache.statsSync({ breakdown: true })
  const { top, other } = stats.byScope.organization!
  for (const t of top.slice(0, 3)) log(`${t.label}: ${t.hits} hits, ${t.misses} misses, ${t.sets} sets`)
  log(`everyone else: ${other.hits} hits, ${other.misses} misses`)
  for (const f of stats.byNamespace!.top)
    log(`memoized ${f.namespace}: ${f.hits} hit(s), ${f.misses} miss(es)`)
  return stats
}
