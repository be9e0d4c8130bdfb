import { spawn } from 'node:child_process'
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, it } from 'vitest'
import type { CacheRule, RuleEvictEvent } from '../../src/index.js'
import {
  Cache,
  InvalidArgumentError,
  LRUEvict,
  MaxItemsEvict,
  MISS,
  SerializationError,
} from '../../src/index.js'
import { JsonSerializer, MongoDBStorage } from '../../src/mongodb.js'
import { MAX_TTL_MS } from '../../src/storage/mongodb/storage.js'
import { mongoUrl, sleep, uniqueName } from '../support/services.js'
import { describeStorageConformance, scopes } from './conformance.js'

const DB = 'cacheado_test'
const created: string[] = []
/** A storage on a collection no other test uses; every collection is dropped after the file. */
function newStorage(options: Partial<ConstructorParameters<typeof MongoDBStorage>[0]> = {}): MongoDBStorage {
  const collectionName = uniqueName('cache')
  created.push(collectionName)
  return new MongoDBStorage({ url: mongoUrl!, dbName: DB, collectionName, ...options })
}

describe.skipIf(!mongoUrl)('MongoDBStorage', () => {
  const admin = new MongoClient(mongoUrl ?? 'mongodb://unused', { serverSelectionTimeoutMS: 5000 })
  afterAll(async () => {
    const db = admin.db(DB)
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name))
    const ours = created.flatMap((name) => [name, `${name}.fences`, `${name}.locks`])
    await Promise.all(ours.filter((name) => existing.has(name)).map((name) => db.dropCollection(name)))
    await admin.close()
  })

  describeStorageConformance('mongodb', { create: () => newStorage(), propertyRuns: 25 })

  describe('documents and indexes', () => {
    it('stores one document per entry with its scope paths, and indexes them', async () => {
      const storage = newStorage()
      const cache = new Cache({ scopes, storage, rules: [new LRUEvict({ maxItems: 10, per: 'user' })] })
      try {
        await cache.set('k', 1, { scope: 'session', orgId: 'o', userId: 'u', sessionId: 's', ttlSeconds: 60 })
        const collection = admin.db(DB).collection(created.at(-1)!)
        const doc = await collection.findOne({})
        expect(doc).toMatchObject({
          _id: 'organization=o/user=u/session=s/|k',
          scopes: ['organization=o/', 'organization=o/user=u/', 'organization=o/user=u/session=s/'],
        })
        expect(doc!.expiresAt).toBeInstanceOf(Date)
        expect(typeof doc!.createdAt).toBe('number')
        expect(typeof doc!.accessedAt).toBe('number')
        const names = (await collection.indexes()).map((index) => index.name)
        expect(names).toEqual(expect.arrayContaining(['cacheado_scopes', 'cacheado_scopes_accessedAt']))
        expect(names.some((name) => name?.startsWith('cacheado_expiresAt'))).toBe(true)
        // FerretDB refuses TTL indexes (code 238); real MongoDB accepts them.
        expect(['ttl-index', 'refused']).toContain(storage.ttlIndex)
      } finally {
        await cache.close()
      }
    })

    it('the sweeper deletes expired documents and counts them as expired evictions', async () => {
      const cache = new Cache({ scopes, storage: newStorage({ sweepIntervalMs: 50 }) })
      try {
        await cache.set('a', 1, { ttlSeconds: 0.05 })
        await cache.set('b', 1, { ttlSeconds: 0.05 })
        await cache.set('c', 1)
        const collection = admin.db(DB).collection(created.at(-1)!)
        const deadline = Date.now() + 3000
        while ((await collection.countDocuments({})) > 1 && Date.now() < deadline) await sleep(20)
        expect(await collection.countDocuments({})).toBe(1)
        expect((await cache.stats()).evictionsByReason.expired).toBe(2)
      } finally {
        await cache.close()
      }
    })

    it('reports evicted refs to rules that listen, whatever characters the refs contain', async () => {
      const events: RuleEvictEvent[] = []
      const listener: CacheRule = { name: 'listener', onEvict: (event) => void events.push(event) }
      const cache = new Cache({
        scopes,
        storage: newStorage(),
        rules: [new LRUEvict({ maxItems: 2 }), listener],
      })
      try {
        const odd = { scope: 'user', orgId: 'a/=|%:{}', userId: 'é 😀' } as const
        await cache.set('first|key', 1, odd)
        await cache.set('x', 1, { ttlSeconds: 0.05 })
        await cache.set('y', 1)
        await sleep(80)
        expect(await cache.get('x')).toBeUndefined() // expired: found by the read, deleted, reported
        await cache.set('z', 1, { ttlSeconds: 0.05 })
        await sleep(80)
        expect((await cache.stats()).totalKeys).toBe(1) // size() reclaims 'z' first
        const automatic = events.filter((event) => event.reason !== 'scope')
        expect(automatic).toEqual([
          {
            ref: {
              scope: [
                { level: 'organization', id: 'a/=|%:{}' },
                { level: 'user', id: 'é 😀' },
              ],
              key: 'first|key',
            },
            reason: 'lru',
            count: 1,
          },
          { ref: { scope: [], key: 'x' }, reason: 'expired', count: 1 },
          { ref: { scope: [], key: 'z' }, reason: 'expired', count: 1 },
        ])
      } finally {
        await cache.close()
      }
    })

    it.each([
      ['cache-wide', new LRUEvict({ maxItems: 3 })],
      ['per user', new MaxItemsEvict({ maxItems: 3, per: 'user' })],
    ] as const)(
      'an expired entry not reclaimed yet never makes a write evict a live one (%s)',
      async (_, rule) => {
        const cache = new Cache({ scopes, storage: newStorage(), rules: [rule] })
        const at = { scope: 'user', orgId: 'o', userId: 'u\u0000' } as const
        try {
          await cache.set('live-1', 1, at)
          await cache.set('live-2', 2, at)
          await cache.set('short', 3, { ...at, ttlSeconds: 0.05 }) // the newest, expired below
          await sleep(80)
          await cache.set('live-3', 4, at) // the bound counts live-1, live-2, live-3: it holds
          expect(await cache.get('live-1', at)).toBe(1)
          expect(await cache.get('live-2', at)).toBe(2)
          expect(await cache.get('live-3', at)).toBe(4)
          const { evictionsByReason, totalKeys } = await cache.stats()
          expect(evictionsByReason).toMatchObject({ expired: 1, lru: 0, maxItems: 0 })
          expect(totalKeys).toBe(3)
          await cache.set('live-4', 5, at) // a real excess still evicts the oldest live entry
          expect(await cache.get('live-1', at)).toBeUndefined()
          expect((await cache.stats()).totalKeys).toBe(3)
        } finally {
          await cache.close()
        }
      },
    )

    it('with the JSON serializer too, values round-trip with their types', async () => {
      const cache = new Cache({ scopes, storage: newStorage({ serializer: new JsonSerializer() }) })
      try {
        const value = { when: new Date(5), tags: new Set(['a']), n: 10n }
        await cache.set('k', value)
        expect(await cache.get('k')).toEqual(value)
      } finally {
        await cache.close()
      }
    })
  })

  describe('bad input', () => {
    it('ids and keys that look like query operators are plain strings', async () => {
      const cache = new Cache({ scopes, storage: newStorage() })
      try {
        const hostile = ['{"$ne": null}', '$where', '$gt', 'a.b', '$', '{"$regex": ".*"}']
        await cache.set('k', 'victim', { scope: 'user', orgId: 'victim', userId: 'u' })
        for (const id of hostile) {
          expect(await cache.get('k', { scope: 'user', orgId: id, userId: 'u' })).toBeUndefined()
          expect(await cache.get('k', { scope: 'user', orgId: 'victim', userId: id })).toBeUndefined()
          expect(await cache.get(id, { scope: 'user', orgId: 'victim', userId: 'u' })).toBeUndefined()
          expect(await cache.evict('k', { scope: 'user', orgId: id, userId: 'u' })).toBe(false)
          expect(await cache.evictByScope('organization', { orgId: id })).toBe(0)
        }
        for (const id of hostile) await cache.set(id, id, { scope: 'user', orgId: id, userId: id })
        for (const id of hostile)
          expect(await cache.get(id, { scope: 'user', orgId: id, userId: id })).toBe(id)
        expect(await cache.evictByScope('organization', { orgId: '$where' })).toBe(1)
        expect(await cache.get('k', { scope: 'user', orgId: 'victim', userId: 'u' })).toBe('victim')
        expect((await cache.stats()).totalKeys).toBe(hostile.length)
      } finally {
        await cache.close()
      }
    })

    it('evictScope removes exactly the subtree among ids that sort right next to it (an _id range)', async () => {
      const storage = newStorage()
      storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
      // Neighbours of 'a' and 'u' in binary order: the range bound is the path with its final '/' made '0'.
      const orgs = ['a', 'a0', 'a/', 'a.', 'a%', 'a\uffff', 'a 😀', '', 'a\u0000', 'A', 'b']
      const users = ['u', 'u0', 'u/', '', 'u\n']
      const refs = orgs.flatMap((org) => [
        { scope: [{ level: 'organization', id: org }], key: `k|${org}` },
        ...users.map((user) => ({
          scope: [
            { level: 'organization', id: org },
            { level: 'user', id: user },
          ],
          key: '0',
        })),
      ])
      refs.push({ scope: [], key: 'organization=a/' }, { scope: [], key: '' })
      try {
        for (const ref of refs) await storage.set(ref, ref.key, undefined)
        const alive = async () => {
          const found = await Promise.all(
            refs.map(async (ref) => ((await storage.get(ref)) === MISS ? 0 : 1)),
          )
          return found.reduce<number>((sum, one) => sum + one, 0)
        }
        let expected = refs.length
        expect(
          await storage.evictScope([
            { level: 'organization', id: 'a' },
            { level: 'user', id: 'u' },
          ]),
        ).toBe(1)
        expect(await alive()).toBe((expected -= 1))
        for (const org of orgs) {
          const n = await storage.evictScope([{ level: 'organization', id: org }])
          expect(n).toBe(org === 'a' ? users.length : users.length + 1)
          expect(await alive()).toBe((expected -= n))
        }
        expect(expected).toBe(2) // the two root entries
      } finally {
        await storage.close()
      }
    })

    it('refuses values over 16 MiB and unserializable values before writing anything', async () => {
      const storage = newStorage({ operationTimeoutMs: 10_000 })
      const cache = new Cache({ scopes, storage })
      try {
        await cache.set('k', 'old')
        const huge = new Uint8Array(16 * 1024 * 1024)
        await expect(cache.set('k', huge)).rejects.toBeInstanceOf(SerializationError)
        await expect(cache.set('k', { f: () => 1 })).rejects.toBeInstanceOf(SerializationError)
        const cyclic: Record<string, unknown> = {}
        cyclic.self = cyclic
        await expect(cache.set('k', cyclic)).rejects.toBeInstanceOf(SerializationError)
        expect(await cache.get('k')).toBe('old')
        // Just under the limit still fits.
        await cache.set('big', new Uint8Array(16 * 1024 * 1024 - 4096))
        expect(((await cache.get('big')) as Uint8Array).byteLength).toBe(16 * 1024 * 1024 - 4096)
      } finally {
        await cache.close()
      }
    })

    it('a too deeply nested value is a SerializationError, before anything is written', async () => {
      const storage = newStorage()
      const cache = new Cache({ scopes, storage })
      try {
        await cache.set('k', 'old')
        let deep: unknown = 'leaf'
        for (let i = 0; i < 200_000; i++) deep = [deep]
        await expect(cache.set('k', deep)).rejects.toBeInstanceOf(SerializationError)
        await expect(storage.set({ scope: [], key: 'k' }, deep, undefined)).rejects.toThrow(
          /cannot serialize the value under "k".*nested/,
        )
        const ref = { scope: [], key: 'k' }
        await expect(
          storage.setFenced!(ref, deep, undefined, await storage.fence!(ref)),
        ).rejects.toBeInstanceOf(SerializationError)
        expect(await cache.get('k')).toBe('old')
      } finally {
        await cache.close()
      }
    })

    it('refuses a TTL it cannot store (InvalidArgumentError) before writing; the longest one is readable', async () => {
      const storage = newStorage()
      storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
      const ref = { scope: [{ level: 'organization', id: 'o\u0000' }], key: 'k' }
      try {
        await storage.set(ref, 'old', undefined)
        for (const ttlMs of [1e16, 1e13 * 1000, MAX_TTL_MS + 1, Infinity, NaN, -1, 0]) {
          await expect(storage.set(ref, 'new', ttlMs)).rejects.toBeInstanceOf(InvalidArgumentError)
          await expect(
            storage.setFenced!(ref, 'new', ttlMs, await storage.fence!(ref)),
          ).rejects.toBeInstanceOf(InvalidArgumentError)
        }
        expect(await storage.get(ref)).toBe('old')
        await storage.set(ref, 'longest', MAX_TTL_MS)
        expect(await storage.get(ref)).toBe('longest')
        expect(await storage.size()).toBe(1)
      } finally {
        await storage.close()
      }
    })

    it('needs exactly one of url, client or collection', () => {
      expect(() => new MongoDBStorage({} as never)).toThrow(/exactly one of url, client or collection/)
      expect(() => new MongoDBStorage({ url: mongoUrl!, client: admin })).toThrow(/url and client/)
      expect(() => new MongoDBStorage({ url: mongoUrl!, operationTimeoutMs: 0 })).toThrow(
        /operationTimeoutMs/,
      )
    })
  })

  describe('user-supplied client and collection', () => {
    it('{ client } and { collection } are used but never closed; promoteBuffers clients work', async () => {
      const client = new MongoClient(mongoUrl!, { promoteBuffers: true }) // values come back as Buffers
      const collectionName = uniqueName('cache')
      created.push(collectionName)
      const viaClient = new Cache({
        scopes,
        storage: new MongoDBStorage({ client, dbName: DB, collectionName }),
      })
      const viaCollection = new Cache({
        scopes,
        storage: new MongoDBStorage({ collection: client.db(DB).collection(collectionName) }),
      })
      try {
        await viaClient.set('k', 'shared')
        expect(await viaCollection.get('k')).toBe('shared')
        await viaClient.close()
        await viaCollection.close()
        // The client still works: neither storage closed it.
        expect(await client.db(DB).collection(collectionName).countDocuments({})).toBe(1)
      } finally {
        await client.close()
      }
    })
  })

  describe('several processes', () => {
    it('a second Node process writes (set and memoized call) and this one reads them', async () => {
      const collectionName = uniqueName('shared')
      created.push(collectionName)
      const output = await runPeer({ CACHEADO_PEER_MODE: 'write', CACHEADO_PEER_COLLECTION: collectionName })
      expect(JSON.parse(output)).toEqual({ calls: 1 })
      const cache = new Cache({
        scopes,
        storage: new MongoDBStorage({ url: mongoUrl!, dbName: DB, collectionName }),
      })
      try {
        expect(await cache.get('greeting', { scope: 'user', orgId: 'o1', userId: 'u1' })).toEqual({
          text: 'hello from the peer',
          at: new Date(0),
        })
        let calls = 0
        const square = cache.cache({ namespace: 'square', scope: 'user' })(async (args: {
          orgId: string
          userId: string
          n: number
        }) => {
          calls++
          return args.n * args.n
        })
        expect(await square({ orgId: 'o1', userId: 'u1', n: 7 })).toBe(49)
        expect(calls).toBe(0) // computed by the peer, found here
        expect(await cache.evictByScope('organization', { orgId: 'o1' })).toBe(2)
      } finally {
        await cache.close()
      }
    })

    it('bounds hold across processes writing at the same time', async () => {
      const collectionName = uniqueName('bounded')
      created.push(collectionName)
      const env = {
        CACHEADO_PEER_MODE: 'bounded',
        CACHEADO_PEER_COLLECTION: collectionName,
        CACHEADO_PEER_WRITES: '60',
      }
      const cache = new Cache({
        scopes,
        storage: new MongoDBStorage({ url: mongoUrl!, dbName: DB, collectionName, operationTimeoutMs: 5000 }),
        rules: [new LRUEvict({ maxItems: 20 }), new MaxItemsEvict({ maxItems: 5, per: 'user' })],
      })
      const collection = admin.db(DB).collection(collectionName)
      try {
        let maxSeen = 0
        let sampling = true
        const sampler = (async () => {
          while (sampling) {
            maxSeen = Math.max(maxSeen, await collection.countDocuments({}).catch(() => 0))
            await sleep(5)
          }
        })()
        const peers = Promise.all([
          runPeer({ ...env, CACHEADO_PEER_ID: 'p1' }),
          runPeer({ ...env, CACHEADO_PEER_ID: 'p2' }),
        ])
        let peersDone = false
        peers.then(
          () => (peersDone = true),
          () => (peersDone = true),
        )
        // This process writes for as long as the peers do, so that all three overlap.
        let mainWrites = 0
        while (!peersDone || mainWrites < 60) {
          await cache.set(`main-k${mainWrites}`, mainWrites, {
            scope: 'user',
            orgId: 'o',
            userId: `u${mainWrites % 6}`,
          })
          mainWrites++
        }
        const evictedByPeers = (await peers.finally(() => (sampling = false))).map(
          (out) => JSON.parse(out) as { evicted: number },
        )
        sampling = false
        await sampler
        const stats = await cache.stats()
        // Quiescent: both bounds hold exactly.
        expect(stats.totalKeys).toBeLessThanOrEqual(20)
        for (let u = 0; u < 6; u++) {
          expect(
            await collection.countDocuments({ scopes: `organization=o/user=u${u}/` }),
          ).toBeLessThanOrEqual(5)
        }
        // Every document ever written was either evicted (and counted exactly once) or is still there.
        const evictedHere = stats.evictionsByReason.lru + stats.evictionsByReason.maxItems
        const evictedTotal = evictedHere + evictedByPeers.reduce((sum, peer) => sum + peer.evicted, 0)
        expect(evictedTotal + stats.totalKeys!).toBe(2 * 60 + mainWrites)
        // While three writers run, the cache-wide bound may be exceeded by at most the writes in flight.
        expect(maxSeen).toBeLessThanOrEqual(20 + 3)
        console.info(
          `[mongodb bounds, 3 processes, ${120 + mainWrites} writes] max documents seen while writing: ${maxSeen} (bound 20)`,
        )
      } finally {
        await cache.close()
      }
    })
  })
})

/** Runs test/storage/fixtures/mongodb-peer.ts in a new Node process; resolves its stdout. */
function runPeer(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/fixtures/mongodb-peer.ts'], {
      env: { ...process.env, CACHEADO_PEER_URL: mongoUrl!, CACHEADO_PEER_DB: DB, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new Error(`peer exited with ${code}: ${stderr}`)),
    )
  })
}
