// The original README's "Custom Configuration" (scope hierarchy and a size bound) and "Stampede Protection".
import { Cache, LifeTimeEvict, LRUEvict, ScopeConfig, ScopeLevel } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  const scopes = new ScopeConfig([
    new ScopeLevel('organization', 'orgId', [
      new ScopeLevel('user', 'userId', [new ScopeLevel('session', 'sessionId')]),
    ]),
  ])
  // max_size=50000 in the original; here a bound that always holds, plus a per-user quota
  const cache = new Cache({
    scopes,
    rules: [
      new LRUEvict({ maxItems: 50_000 }),
      new LRUEvict({ maxItems: 100, per: 'user' }),
      new LifeTimeEvict(),
    ],
  })

  let apiCalls = 0
  const expensiveApiCall = cache.cache({ ttlSeconds: 300 })(async function expensiveApiCall(
    endpoint: string,
  ) {
    apiCalls++
    await new Promise((resolve) => setTimeout(resolve, 10)) // stands for the HTTP round trip
    return { endpoint, data: [1, 2, 3] }
  })
  // 100 simultaneous calls = 1 API call
  const results = await Promise.all(Array.from({ length: 100 }, () => expensiveApiCall('/api/data')))
  log(
    `100 concurrent calls of expensiveApiCall ran it ${apiCalls} time(s); all got ${JSON.stringify(results[0])}`,
  )
  await cache.close()
  return { apiCalls, results }
}
