/**
 * The caches the handle and getOrSet tests run on: the in-memory default, and every shared server the
 * test script started (standalone Redis, Redis Cluster, FerretDB), the Redis ones also with a local tier
 * in front. `make(prefix)` builds a cache on a storage named after `prefix` (two caches made with one
 * prefix share entries, as two processes would).
 */
import type { StorageProvider } from '../../src/index.js'
import { Cache, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { redisTargets } from '../support/redis-targets.js'
import { mongoUrl } from '../support/services.js'

export const scopes = new ScopeConfig([
  new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')]),
])

/** A cache the tests use (on any storage). */
export type TestCache = Cache<typeof scopes, StorageProvider>

export interface Backend {
  readonly name: string
  /** Whether caches made with one prefix share entries (not the in-memory default). */
  readonly shared: boolean
  /** Whether there is a local tier in front of the storage. */
  readonly local: boolean
  /** A new cache; with a local tier, once its bus is subscribed (before that it keeps no copies). */
  make(prefix: string): Promise<TestCache>
}

/** Resolves once a two-tier cache's bus confirmed its subscription (its first `busReset`). */
function subscribed(cache: TestCache): Promise<TestCache> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bus did not subscribe within 5 s')), 5000)
    const ready = () => {
      clearTimeout(timer)
      cache.off('busReset', ready)
      resolve(cache)
    }
    cache.on('busReset', ready)
  })
}

export function backends(): Backend[] {
  const list: Backend[] = [
    { name: 'memory', shared: false, local: false, make: async () => new Cache({ scopes }) as TestCache },
  ]
  for (const target of redisTargets()) {
    list.push({
      name: `redis ${target.name}`,
      shared: true,
      local: false,
      make: async (prefix) => new Cache({ scopes, storage: target.storage(prefix) }),
    })
    list.push({
      name: `redis ${target.name} + local tier`,
      shared: true,
      local: true,
      make: (prefix) =>
        subscribed(new Cache({ scopes, storage: target.storage(prefix), local: { ttlSeconds: 60 } })),
    })
  }
  if (mongoUrl !== undefined) {
    const url = mongoUrl
    list.push({
      name: 'ferretdb',
      shared: true,
      local: false,
      make: async (prefix) =>
        new Cache({
          scopes,
          storage: new MongoDBStorage({ url, dbName: 'cacheado_test', collectionName: prefix }),
        }),
    })
  }
  return list
}
