/**
 * Races between clients (and processes) sharing one collection, on the test FerretDB: concurrent first
 * writes of one key, and fenced writes racing evictions of their scope, an ancestor, or the whole cache.
 */
import { MongoClient } from 'mongodb'
import { afterAll, describe, expect, it } from 'vitest'
import type { EntryRef } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { mongoUrl, uniqueName } from '../support/services.js'

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

describe.skipIf(!mongoUrl)('MongoDBStorage races between clients', () => {
  const admin = new MongoClient(mongoUrl ?? 'mongodb://unused', { serverSelectionTimeoutMS: 5000 })
  afterAll(async () => {
    const db = admin.db(DB)
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name))
    const ours = created.flatMap((name) => [name, `${name}.fences`, `${name}.locks`])
    await Promise.all(ours.filter((name) => existing.has(name)).map((name) => db.dropCollection(name)))
    await admin.close()
  })

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
