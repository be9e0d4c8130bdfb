/**
 * The `EntryLocks` contract on every backend that has it (Redis standalone, Redis Cluster, MongoDB
 * through FerretDB), against the real servers: one holder per entry, release and extension only by the
 * holder's token, expiry on its own, a late release never frees a later holder's lock, and a lock is
 * not an entry. Then the memoizer's lock between caches that stand for processes.
 */
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, it } from 'vitest'
import type { EntryLocks, StorageProvider } from '../../src/index.js'
import { Cache, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { mongoUrl, redisClusterNodes, redisUrl, sleep, uniqueName } from '../support/services.js'

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId')])
const DB = uniqueName('locks_db')

type Backend = { name: string; create: (name: string) => StorageProvider & { locks?: EntryLocks } }
const backends: Backend[] = []
if (redisUrl !== undefined) {
  backends.push({ name: 'redis', create: (prefix) => new RedisStorage({ url: redisUrl!, prefix }) })
}
if (redisClusterNodes !== undefined) {
  backends.push({
    name: 'redis cluster',
    create: (prefix) => new RedisStorage({ cluster: redisClusterNodes!, prefix, commandTimeoutMs: 3000 }),
  })
}
if (mongoUrl !== undefined) {
  backends.push({
    name: 'mongodb',
    create: (collectionName) =>
      new MongoDBStorage({ url: mongoUrl!, dbName: DB, collectionName, operationTimeoutMs: 5000 }),
  })
}

describe.skipIf(backends.length === 0).each(backends)('EntryLocks on $name', (backend) => {
  const open: Cache<typeof scopes, StorageProvider>[] = []
  const makeCache = (name: string) => {
    const cache = new Cache({ scopes, storage: backend.create(name) })
    open.push(cache)
    return cache
  }
  afterAll(async () => {
    for (const cache of open.splice(0)) {
      await cache.clear()
      await cache.close()
    }
    if (backend.name === 'mongodb') {
      const admin = new MongoClient(mongoUrl!, { serverSelectionTimeoutMS: 5000 })
      await admin.db(DB).dropDatabase()
      await admin.close()
    }
  })

  it('one holder per entry; release and extend only with its token; expiry on its own', async () => {
    const cache = makeCache(uniqueName('locks'))
    const locks = cache.storage.locks!
    expect(locks).toBeDefined()
    const ref = { scope: [{ level: 'organization', id: 'o{1}' }], key: 'k' }
    await cache.set('k', 1, { scope: 'organization', orgId: 'o{1}' })
    const held = await locks.acquire(ref, 10_000)
    expect(held?.ref).toEqual(ref)
    expect(await locks.acquire(ref, 10_000)).toBeUndefined()
    const other = await locks.acquire({ ...ref, key: 'other' }, 10_000)
    expect(other).toBeDefined()
    expect(await locks.release({ ref, token: 'not-mine' })).toBe(false)
    expect(await locks.extend({ ref, token: 'not-mine' }, 100)).toBe(false)
    expect(await locks.acquire(ref, 10_000)).toBeUndefined()
    expect(await locks.extend(held!, 60_000)).toBe(true)
    expect(await locks.release(held!)).toBe(true)
    expect(await locks.release(held!)).toBe(false)
    const short = await locks.acquire(ref, 100)
    expect(short).toBeDefined()
    expect(await locks.acquire(ref, 10_000)).toBeUndefined()
    await sleep(250)
    const next = await locks.acquire(ref, 10_000) // the short one lapsed on its own
    expect(next).toBeDefined()
    expect(next!.token).not.toBe(short!.token)
    expect(await locks.release(short!)).toBe(false) // a late release does not free the next holder's lock
    expect(await locks.extend(short!, 10_000)).toBe(false)
    expect(await locks.acquire(ref, 10_000)).toBeUndefined()
    // A lock is not an entry: not counted, not removed with its scope.
    expect(await cache.storage.size()).toBe(1)
    expect(await cache.evictByScope('organization', { orgId: 'o{1}' })).toBe(1)
    expect(await locks.acquire(ref, 10_000)).toBeUndefined()
    expect(await locks.release(next!)).toBe(true)
    expect(await locks.release(other!)).toBe(true)
  })

  it('concurrent acquisitions of one free lock: exactly one wins', async () => {
    const locks = makeCache(uniqueName('race')).storage.locks!
    const ref = { scope: [], key: 'race' }
    const handles = await Promise.all(Array.from({ length: 20 }, () => locks.acquire(ref, 10_000)))
    expect(handles.filter((h) => h !== undefined)).toHaveLength(1)
  })

  it('memoized with lock: caches sharing the backend run a slow function once', async () => {
    const name = uniqueName('memo')
    let runs = 0
    const caches = [makeCache(name), makeCache(name), makeCache(name)]
    await Promise.all(caches.map((cache) => cache.get('warm-up')))
    const loads = caches.map((cache) =>
      cache.cache({ namespace: 'load', scope: 'organization', ttlSeconds: 60, lock: true })(
        async (args: { orgId: string }) => {
          runs++
          await sleep(300)
          return `report of ${args.orgId}`
        },
      ),
    )
    const results = await Promise.all(loads.flatMap((load) => [load({ orgId: 'o1' }), load({ orgId: 'o1' })]))
    expect(results).toEqual(Array(6).fill('report of o1'))
    expect(runs).toBe(1)
  })
})
