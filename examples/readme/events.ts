// The README's "Events": what happened to which entry, and how long the storage took.
import { Cache, LRUEvict } from 'cacheado'

export function main(log: (line: string) => void = console.log) {
  const cache = new Cache({ rules: [new LRUEvict({ maxItems: 2, per: 'user' })] })
  const lines: string[] = []
  const scopeOf = (scope?: readonly { level: string; id: string }[]) =>
    scope?.map((s) => `${s.level}=${s.id}`).join('/') || 'global'

  // #region events
  cache.on('hit', ({ scope, key, namespace }) => lines.push(`hit ${scopeOf(scope)} ${key ?? namespace}`))
  cache.on('miss', ({ scope, key, namespace }) => lines.push(`miss ${scopeOf(scope)} ${key ?? namespace}`))
  cache.on('evict', ({ reason, count, scope, key }) =>
    lines.push(`evict ${reason} x${count} ${scopeOf(scope)} ${key ?? '(whole scope)'}`),
  )
  const durations: number[] = [] // e.g. feed a latency histogram
  cache.on('operation', ({ durationMs }) => void durations.push(durationMs)) // also: operation, outcome
  // #endregion

  const ann = { scope: 'user', orgId: 'acme', userId: 'ann' } as const
  cache.setSync('cart', ['book'], ann)
  cache.getSync('cart', ann)
  cache.getSync('wishlist', ann)
  const plan = cache.cache({ namespace: 'plan', scope: 'organization' })(
    (q: { orgId: string }) => `pro:${q.orgId}`,
  )
  plan({ orgId: 'acme' })
  cache.setSync('prefs', {}, ann)
  cache.setSync('draft', {}, ann) // ann's third entry: the per-user LRU bound evicts 'cart'
  cache.evictByScopeSync('organization', { orgId: 'acme' })

  for (const line of lines) log(line)
  log(`${durations.length} storage operations timed`)
  return { lines, timed: durations.length }
}
