/**
 * Races between clients (and processes) sharing one collection, on the test FerretDB: concurrent first
 * writes of one key, and fenced writes racing evictions of their scope, an ancestor, or the whole cache.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath } from '../../src/index.js'
import { MISS } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { encodeEntryRef } from '../../src/storage/key-encoding.js'
import type { EntryDocument } from '../../src/storage/mongodb/document.js'
import { subtreeFilter } from '../../src/storage/mongodb/document.js'
import { FENCE_RETENTION_MS, MongoFences } from '../../src/storage/mongodb/fence.js'
import { mongoUrl, sleep, uniqueName } from '../support/services.js'

const DB = 'cacheado_test'
const created: string[] = []

/** Two storages (two clients: two "processes" as the server sees them) on one new collection. */
function pair(
  options: Partial<ConstructorParameters<typeof MongoDBStorage>[0]> = {},
): [MongoDBStorage, MongoDBStorage] {
  const collectionName = uniqueName('races')
  created.push(collectionName)
  const make = () =>
    new MongoDBStorage({ url: mongoUrl!, dbName: DB, collectionName, operationTimeoutMs: 5000, ...options })
  return [attach(make()), attach(make())]
}

function attach(storage: MongoDBStorage): MongoDBStorage {
  storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
  return storage
}

const admin = new MongoClient(mongoUrl ?? 'mongodb://unused', { serverSelectionTimeoutMS: 5000 })
afterAll(async () => {
  const db = admin.db(DB)
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name))
  const ours = created.flatMap((name) => [name, `${name}.fences`, `${name}.locks`])
  await Promise.all(ours.filter((name) => existing.has(name)).map((name) => db.dropCollection(name)))
  await admin.close()
})

describe.skipIf(!mongoUrl)('MongoDBStorage races between clients', () => {
  it('concurrent first writes of one key from two clients all succeed (no E11000)', async () => {
    const [a, b] = pair()
    try {
      await a.set({ scope: [], key: 'warm-up' }, 0, undefined) // indexes exist before the race
      await b.get({ scope: [], key: 'warm-up' })
      const failures: unknown[] = []
      for (let run = 0; run < 40; run++) {
        const ref: EntryRef = { scope: [{ level: 'organization', id: `o\u0000${run}` }], key: `new-${run}` }
        const results = await Promise.allSettled([a.set(ref, 'from a', 60_000), b.set(ref, 'from b', 60_000)])
        for (const result of results) if (result.status === 'rejected') failures.push(result.reason)
        expect(['from a', 'from b']).toContain(await a.get(ref))
      }
      expect(failures).toEqual([])
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})

type Kind = 'scope' | 'ancestor' | 'clear'
const KINDS: readonly Kind[] = ['scope', 'ancestor', 'clear']
const RUNS = 60

/** A user scope with hostile ids, and the path each kind of eviction removes. */
function target(run: number, kind: Kind): { ref: EntryRef; path: ScopePath } {
  const org = { level: 'organization', id: `o/${run}\u0000|=%` }
  const user = { level: 'user', id: `u\n${run}:{}` }
  const ref = { scope: [org, user], key: `memo\u0007${run}` }
  return { ref, path: kind === 'scope' ? [org, user] : kind === 'ancestor' ? [org] : [] }
}

/** A random pause of 0 to `ms` - 1 milliseconds, so that runs cover every interleaving. */
const jitter = (ms: number) => sleep(Math.floor(Math.random() * ms))

describe.skipIf(!mongoUrl)('MongoDBStorage write fences', () => {
  it('a fenced write with no eviction since its fence is stored; one of an unrelated scope does not refuse it', async () => {
    const [a, b] = pair()
    try {
      const { ref } = target(0, 'scope')
      const fence = await a.fence!(ref)
      await b.evictScope([{ level: 'organization', id: 'other' }])
      await b.evictScope([ref.scope[0]!, { level: 'user', id: 'sibling' }])
      expect(await a.setFenced!(ref, { n: 1 }, 60_000, fence)).toBe(true)
      expect(await b.get(ref)).toEqual({ n: 1 })
      expect(await a.size()).toBe(1)
      // A fence from another storage is refused, and nothing is written.
      const other = { ...ref, key: 'other' }
      expect(await a.setFenced!(other, 1, undefined, await b.fence!(other))).toBe(false)
      expect(await a.get(other)).toBe(MISS)
      expect(await b.size()).toBe(1)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('an eviction applied after the fence was taken refuses the write (scope, ancestor, clear)', async () => {
    const [a, b] = pair()
    try {
      for (const kind of KINDS) {
        const { ref, path } = target(1, kind)
        const fence = await a.fence!(ref)
        await b.evictScope(path)
        expect(await a.setFenced!(ref, 'stale', undefined, fence)).toBe(false)
        expect(await a.get(ref)).toBe(MISS)
        expect(await a.size()).toBe(0)
      }
      // Nothing left behind: no document for the refused writes (pending values are withdrawn).
      expect(await admin.db(DB).collection(created.at(-1)!).countDocuments({})).toBe(0)
      // A fence older than half the retention is refused (its generations may have been swept).
      const { ref } = target(2, 'scope')
      const old = { ...(await a.fence!(ref)), takenAt: Date.now() - FENCE_RETENTION_MS / 2 - 1000 }
      expect(await a.setFenced!(ref, 'late', undefined, old)).toBe(false)
      expect(await a.get(ref)).toBe(MISS)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it.each(KINDS)(
    `an eviction (%s) racing a fenced write from another client never leaves the value behind (${RUNS} runs)`,
    async (kind) => {
      const [a, b] = pair()
      try {
        await a.set({ scope: [], key: 'warm-up' }, 0, undefined)
        await b.get({ scope: [], key: 'warm-up' })
        let stored = 0
        for (let run = 0; run < RUNS; run++) {
          const { ref, path } = target(run, kind)
          await a.set(ref, 'old', undefined) // an older value must not survive either
          const fence = await a.fence!(ref) // the computation starts here...
          const [wrote] = await Promise.all([
            jitter(10).then(() => a.setFenced!(ref, `computed ${run}`, 60_000, fence)),
            jitter(12).then(() => b.evictScope(path)), // ...and an eviction starts during it
          ])
          if (wrote) stored++
          expect([await a.get(ref), await b.get(ref)]).toEqual([MISS, MISS])
        }
        console.info(
          `[mongodb fences, ${kind}] stored then evicted ${stored}/${RUNS}, refused ${RUNS - stored}/${RUNS}`,
        )
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    },
    30_000,
  )

  it(`an eviction from another process racing a fenced write never leaves the value behind (${RUNS} runs)`, async () => {
    const [a] = pair()
    const collectionName = created.at(-1)!
    const peer = spawn(process.execPath, ['--import', 'tsx', 'test/storage/fixtures/mongodb-peer.ts'], {
      env: {
        ...process.env,
        CACHEADO_PEER_URL: mongoUrl!,
        CACHEADO_PEER_DB: DB,
        CACHEADO_PEER_COLLECTION: collectionName,
        CACHEADO_PEER_MODE: 'evict',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const replies = createInterface({ input: peer.stdout })[Symbol.asyncIterator]()
    const evict = async (path: ScopePath): Promise<void> => {
      peer.stdin.write(`${JSON.stringify(path)}\n`)
      const reply = await replies.next()
      if (reply.done === true) throw new Error('the peer exited')
    }
    try {
      await evict([{ level: 'organization', id: 'warm-up' }])
      for (let run = 0; run < RUNS; run++) {
        const { ref, path } = target(run, KINDS[run % KINDS.length]!)
        const fence = await a.fence!(ref)
        await Promise.all([
          jitter(12).then(() => a.setFenced!(ref, `computed ${run}`, undefined, fence)),
          evict(path),
        ])
        expect(await a.get(ref)).toBe(MISS)
      }
    } finally {
      peer.stdin.end()
      await new Promise((resolve) => peer.once('exit', resolve))
      await a.close()
    }
  }, 30_000)
})

describe.skipIf(!mongoUrl)('MongoFences commit styles on one server', () => {
  it.each(['conditional', 'by-id'] as const)(
    'the %s commit never leaves a value an eviction started after the fence (60 runs)',
    async (style) => {
      const collectionName = uniqueName('styles')
      created.push(collectionName)
      const db = admin.db(DB)
      const entries = db.collection<EntryDocument>(collectionName)
      const fences = new MongoFences(db, collectionName, style)
      const evicting = new MongoFences(db, collectionName, style) // another process's view
      let stored = 0
      for (let run = 0; run < RUNS; run++) {
        const { ref, path } = target(run, KINDS[run % KINDS.length]!)
        const id = encodeEntryRef(ref)
        const write = { id, ref, v: `computed ${run}`, expiresAt: null, tick: run + 1, b: 8 }
        const fence = await fences.take(ref)
        const [wrote] = await Promise.all([
          jitter(10).then(() => fences.setFenced(entries, write, fence)),
          jitter(10).then(async () => {
            await evicting.bump(path)
            await entries.deleteMany(path.length === 0 ? {} : subtreeFilter(path))
          }),
        ])
        if (wrote) stored++
        expect(await entries.findOne({ _id: id, v: { $exists: true } })).toBeNull()
      }
      // With no eviction, both styles store.
      const { ref } = target(RUNS, 'scope')
      const write = { id: encodeEntryRef(ref), ref, v: 'kept', expiresAt: null, tick: 1, b: 4 }
      expect(await fences.setFenced(entries, write, await fences.take(ref))).toBe(true)
      expect(await entries.findOne({ _id: write.id })).toMatchObject({ v: 'kept' })
      console.info(`[mongodb fences, ${style} commit] stored then evicted ${stored}/${RUNS}`)
    },
    30_000,
  )
})
