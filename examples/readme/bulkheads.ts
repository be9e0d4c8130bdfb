// "Bulkheads": at most 2 report runs at once per organization; a third caller gets an OverloadError;
// another organization is not held up; ttlJitter spreads the expiries of entries written together.
import { Cache, OverloadError, ScopeConfig, ScopeLevel } from 'cacheado'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function main(log: (line: string) => void = console.log) {
  const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId')])
  const cache = new Cache({ scopes })
  let running = 0
  let most = 0

  // #region bulkhead
  const report = cache.cache({
    scope: 'organization',
    ttlSeconds: 300,
    ttlJitter: 0.1, // each entry lives 270 to 300 s: one tenant's reports do not all expire together
    maxConcurrent: { per: 'organization', limit: 2 }, // 2 runs at once per organization; past it an
    // OverloadError at once (with hardTimeoutMs, a miss waits that long for a slot first)
  })(async function buildReport(params: { orgId: string }, name: string) {
    running++
    most = Math.max(most, running)
    await sleep(300) // a slow query
    running--
    return { org: params.orgId, name }
  })

  const acme = ['sales', 'stock', 'churn'].map((name) =>
    report({ orgId: 'acme' }, name).catch((error: unknown) =>
      error instanceof OverloadError ? `overloaded: ${error.message}` : Promise.reject(error),
    ),
  )
  const beta = await report({ orgId: 'beta' }, 'sales') // runs at once: beta has its own slots
  // #endregion

  const results = await Promise.all(acme)
  const refused = results.filter((result) => typeof result === 'string')
  for (const line of refused) log(String(line))
  await cache.close()
  return { most, refused: refused.length, beta }
}
