// The whole @keyv/test-suite (keyvTestSuite: api, values, namespaces) on the KeyvAdapter, over the
// in-memory storage, a standalone Redis, a Redis Cluster and FerretDB, bound to a tenant's scope and to
// the global scope, and its iterator tests (keyvIteratorTests).
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import Keyv from 'keyv'
import * as vitest from 'vitest'
import { afterAll, describe } from 'vitest'
import { Cache, InMemory } from '../../src/index.js'
import type { StorageProvider } from '../../src/index.js'
import { KeyvAdapter } from '../../src/keyv.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { mongoUrl, redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'

const backends: { name: string; skip: boolean; create: () => StorageProvider }[] = [
  { name: 'memory', skip: false, create: () => new InMemory() },
  {
    name: 'redis',
    skip: redisUrl === undefined,
    create: () => new RedisStorage({ url: redisUrl!, prefix: uniqueName('keyv') }),
  },
  {
    name: 'redis cluster',
    skip: redisClusterNodes === undefined,
    create: () => new RedisStorage({ cluster: redisClusterNodes!, prefix: uniqueName('keyv') }),
  },
  {
    name: 'ferretdb',
    skip: mongoUrl === undefined,
    create: () =>
      new MongoDBStorage({ url: mongoUrl!, dbName: 'cacheado_test', collectionName: uniqueName('keyv') }),
  },
]

for (const backend of backends) {
  describe.skipIf(backend.skip)(`@keyv/test-suite on ${backend.name}`, () => {
    const caches: Cache<never, StorageProvider>[] = []
    const cacheOn = () => {
      const cache = new Cache({ storage: backend.create() })
      caches.push(cache as never)
      return cache
    }
    afterAll(async () => {
      for (const cache of caches) {
        await cache.clear()
        await cache.close()
      }
    })

    describe('bound to an organization', () => {
      const cache = backend.skip ? undefined : cacheOn()
      keyvTestSuite(
        vitest as never,
        Keyv,
        () => new KeyvAdapter(cache!, { scope: 'organization', orgId: 'o1' }),
      )
    })

    describe('bound to the global scope', () => {
      const cache = backend.skip ? undefined : cacheOn()
      keyvTestSuite(vitest as never, Keyv, () => new KeyvAdapter(cache!))
      keyvIteratorTests(vitest as never, Keyv, () => new KeyvAdapter(cache!))
    })
  })
}
