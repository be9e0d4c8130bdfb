// The README's "Stampede protection across processes": one run per key among every process on Redis.
// #region lock
import { Cache } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const cache = new Cache({ storage: new RedisStorage({ url: redisUrl, prefix: 'myapp' }) })

// In every process: concurrent misses of one organization run buildReport once among all of them
const buildReport = cache.cache({
  namespace: 'buildReport', // explicit: processes must agree on it
  scope: 'organization',
  ttlSeconds: 300,
  lock: { ttlMs: 5000, waitMs: 10_000 }, // or lock: true for these defaults
})(async function buildReport(args: { orgId: string }) {
  await new Promise((resolve) => setTimeout(resolve, 100)) // stands for a slow query
  return { orgId: args.orgId, rows: 1234 }
})
// #endregion

// A second cache on the same prefix stands for a second process.
const other = new Cache({ storage: new RedisStorage({ url: redisUrl, prefix: 'myapp' }) })
const buildReportElsewhere = other.cache({
  namespace: 'buildReport',
  scope: 'organization',
  ttlSeconds: 300,
  lock: true,
})(async function buildReport(args: { orgId: string }) {
  await new Promise((resolve) => setTimeout(resolve, 100))
  return { orgId: args.orgId, rows: 1234 }
})
const results = await Promise.all(
  Array.from({ length: 20 }, (_, i) =>
    i % 2 === 0 ? buildReport({ orgId: 'lock-example' }) : buildReportElsewhere({ orgId: 'lock-example' }),
  ),
)
// One run among both caches: one write in all.
export const result = { sets: cache.counters().sets + other.counters().sets, results }
await cache.clear()
await Promise.all([cache.close(), other.close()])
