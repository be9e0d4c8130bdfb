// The suites that run under Bun's own test runner (`bash scripts/test-bun.sh`, see "Runtimes" in the
// README): the shipped storage conformance suite (`cacheado/testing`) on the in-memory storage, a
// standalone Redis, a Redis Cluster and FerretDB, and the whole @keyv/test-suite (with its iterator tests) on the KeyvAdapter over memory,
// and Redis. Vitest does not pick this file up (it is not a *.test.ts): Bun runs it.
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import Keyv from 'keyv'
import { Cache, InMemory } from '../../src/index.js'
import type { StorageProvider } from '../../src/index.js'
import { KeyvAdapter } from '../../src/keyv.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { describeStorageConformance } from '../../src/testing/index.js'
import { mongoUrl, redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'

/** The part of `bun:test` used here (typed by hand: the repository does not depend on @types/bun). */
interface BunTest {
  describe(name: string, body: () => void): void
  it(name: string, body: () => unknown, timeoutMs?: number): void
  beforeEach(body: () => unknown): void
  afterEach(body: () => unknown): void
  afterAll(body: () => unknown): void
  expect: unknown
}

const versions = process.versions as { bun?: string }
if (versions.bun === undefined)
  throw new Error('test/bun/runtime.bun.ts runs under Bun: bash scripts/test-bun.sh')
const bun = (await import('bun:test' as string)) as BunTest
const { describe, it, afterEach, afterAll, beforeEach } = bun

/** Cases of remote backends may take longer than Bun's default 5 s. */
const TIMEOUT_MS = 20_000
const runner = {
  describe,
  it: (name: string, body: () => Promise<void>) => it(name, body, TIMEOUT_MS),
  afterEach,
}

/** @keyv/test-suite calls `test.it(name, (t) => t.expect(...))`, as vitest passes its context. */
const keyvRunner = {
  it: (name: string, body: (context: { expect: unknown }) => unknown) =>
    it(name, () => body({ expect: bun.expect }), TIMEOUT_MS),
  beforeEach,
  afterEach,
}

const backends: { name: string; create?: () => StorageProvider }[] = [
  { name: 'memory', create: () => new InMemory() },
  {
    name: 'redis',
    create:
      redisUrl === undefined
        ? undefined
        : () => new RedisStorage({ url: redisUrl, prefix: uniqueName('bun') }),
  },
  {
    name: 'redis cluster',
    create:
      redisClusterNodes === undefined
        ? undefined
        : () => new RedisStorage({ cluster: redisClusterNodes!, prefix: uniqueName('bun') }),
  },
  {
    name: 'ferretdb',
    create:
      mongoUrl === undefined
        ? undefined
        : () =>
            new MongoDBStorage({ url: mongoUrl, dbName: 'cacheado_test', collectionName: uniqueName('bun') }),
  },
]

for (const { name, create } of backends) {
  if (create === undefined) continue
  describeStorageConformance(`${name} on bun ${versions.bun}`, { create, runner, propertyRuns: 25 })
  if (name === 'redis cluster') continue
  describe(`@keyv/test-suite on ${name} on bun`, () => {
    const cache = new Cache({ storage: create() })
    afterAll(async () => {
      await cache.clear()
      await cache.close()
    })
    const store = () => new KeyvAdapter(cache, { scope: 'organization', orgId: 'o1' })
    keyvTestSuite(keyvRunner as never, Keyv, store)
    keyvIteratorTests(keyvRunner as never, Keyv, store)
  })
}
