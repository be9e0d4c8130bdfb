// The "Fair share" guide (docs/guide/fair-share.md): one tenant's burst evicts its own entries, not a
// quiet tenant's working set.
// #region fair-share
import { Cache, LRUEvict } from 'cacheado'

const fair = new Cache({ rules: [new LRUEvict({ maxItems: 100, fairness: 'per-organization' })] })
const plain = new Cache({ rules: [new LRUEvict({ maxItems: 100 })] })

for (const cache of [fair, plain]) {
  for (let i = 0; i < 20; i++) cache.setSync(`plan:${i}`, i, { scope: 'organization', orgId: 'quiet' })
  for (let i = 0; i < 1_000; i++) cache.setSync(`row:${i}`, i, { scope: 'organization', orgId: 'noisy' })
}
const quietKept = (cache: Cache) =>
  Array.from({ length: 20 }, (_, i) =>
    cache.getSync(`plan:${i}`, { scope: 'organization', orgId: 'quiet' }),
  ).filter((v) => v !== undefined).length
console.log(quietKept(fair), quietKept(plain)) // 20 0

// The level must be one of the cache's: the error lists the valid values
try {
  new Cache({ rules: [new LRUEvict({ maxItems: 100, fairness: 'per-team' })] })
} catch (error) {
  console.log((error as Error).message) // ... valid values: 'per-organization', 'per-user', 'per-session'
}
// #endregion

export const result = { fair: quietKept(fair), plain: quietKept(plain), total: fair.statsSync().totalKeys }
await Promise.all([fair.close(), plain.close()])
