/**
 * The MongoDB suite: cacheado's `MongoDBStorage` beside the raw driver (the floor: the same round trip
 * with nothing around it) and keyv + @keyv/mongo, against the server in `CACHEADO_MONGODB_URL`.
 *
 * Scenarios: sequential get-hit, get-hit with 100 in flight, set, and `evictByScope` of one user among
 * `CACHEADO_BENCH_MONGO_DOCS` documents (default 100 000). The raw cases decode the value with the same
 * msgpack serializer, so every case does the same work apart from the library around it. Every case
 * works in a collection of its own in the database `cacheado_bench`, dropped at the end.
 */
import { Keyv } from 'keyv'
import { KeyvMongo } from '@keyv/mongo'
import type { Collection } from 'mongodb'
import { Binary, MongoClient } from 'mongodb'
import { Cache, MsgpackSerializer, ScopeConfig, ScopeLevel } from '../src/index.js'
import type { EntryDocument } from '../src/mongodb.js'
import { MongoDBStorage } from '../src/mongodb.js'
import { scopeKeys } from '../src/storage/mongodb/document.js'
import { encodeEntryRef } from '../src/storage/key-encoding.js'
import { directKey } from '../src/keys/entry-key.js'
import type { Case, MeasureOptions } from './harness.js'
import { IN_FLIGHT, measure, medianOf, percentile, pool } from './harness.js'
import type { Scenario, Section, Suite } from './report.js'
import { atLeastPaired, ratioSection, runScenarios } from './report.js'

const URL_ = process.env.CACHEADO_MONGODB_URL ?? ''
const DB = 'cacheado_bench'
const KEYS = 1024
const MASK = KEYS - 1
const SCOPE_DOCS = Number(process.env.CACHEADO_BENCH_MONGO_DOCS ?? 100_000)
const ENTRIES_PER_USER = 10
/** Round trips take milliseconds: few, longer rounds. */
const OPTIONS: MeasureOptions = { rounds: 5, targetRoundMs: 400, minOps: 128, maxOps: 65_536 }

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`)
const value = { id: 42, name: 'a typical small cached object', tags: ['a', 'b'], at: new Date(0) }
const serializer = new MsgpackSerializer()
const packed = serializer.serialize(value)
const suffix = `${process.pid}_${Date.now().toString(36)}`
let tick = Date.now() * 1000

interface Fixture {
  readonly client: MongoClient
  readonly collections: string[]
  collection(name: string): Collection<{ _id: string; v: Binary }>
}

function fixture(): Fixture {
  const client = new MongoClient(URL_)
  const collections: string[] = []
  return {
    client,
    collections,
    collection(name) {
      const full = `${name}_${suffix}`
      collections.push(full)
      return client.db(DB).collection(full)
    },
  }
}

function ourCache(name: string, fx: Fixture): Cache<typeof scopes, MongoDBStorage> {
  const collectionName = `${name}_${suffix}`
  fx.collections.push(collectionName)
  return new Cache({
    scopes,
    storage: new MongoDBStorage({ url: URL_, dbName: DB, collectionName, operationTimeoutMs: 30_000 }),
  })
}

/**
 * keyv + @keyv/mongo, or the reason it cannot run here. Its connection creates a TTL index; a server
 * that refuses one (FerretDB) makes the connection fail and every later call wait forever, so the
 * first write is given 5 s.
 */
async function keyvOrReason(name: string, fx: Fixture): Promise<Keyv | string> {
  const collection = `${name}_${suffix}`
  fx.collections.push(collection)
  const store = new KeyvMongo({ url: URL_, db: DB, collection })
  let failure: unknown
  store.on('error', (error: unknown) => (failure ??= error))
  const keyv = new Keyv({ store })
  keyv.on('error', (error: unknown) => (failure ??= error))
  const probe = keyv.set('probe', 1).then(() => 'ok' as const)
  const waited = await Promise.race([
    probe,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref()),
  ])
  if (waited === 'ok') return keyv
  probe.catch(() => undefined)
  const reason = failure instanceof Error ? failure.message : 'no answer within 5 s'
  return `keyv + @keyv/mongo: not run, its connection never completes on this server (${reason})`
}

/** The id cacheado gives a global-scope key (so the raw case reads the very same documents). */
const idOf = (key: string) => encodeEntryRef({ scope: [], key: directKey(key) })
const ids = keys.map(idOf)

/** The floor: a findOne by _id of the same documents cacheado reads, plus the same unpack. */
function rawGetCase(name: string, raw: Collection<EntryDocument>, inFlight: boolean): Case {
  const get = async (i: number) => {
    const doc = await raw.findOne({ _id: ids[i & MASK]! })
    return serializer.deserialize(doc!.v instanceof Binary ? doc!.v.value() : doc!.v)
  }
  return {
    name,
    run: inFlight
      ? (ops) => pool(ops, get)
      : async (ops) => {
          for (let i = 0; i < ops; i++) await get(i)
        },
  }
}

function ourGetCase(name: string, cache: Cache<typeof scopes, MongoDBStorage>, inFlight: boolean): Case {
  const get = (i: number) => cache.get(keys[i & MASK]!)
  return {
    name,
    setup: async () => {
      for (const k of keys) await cache.set(k, value)
    },
    run: inFlight
      ? (ops) => pool(ops, get)
      : async (ops) => {
          for (let i = 0; i < ops; i++) await get(i)
        },
  }
}

function keyvGetCase(name: string, keyv: Keyv, inFlight: boolean): Case {
  const get = (i: number) => keyv.get(keys[i & MASK]!)
  return {
    name,
    setup: async () => {
      for (const k of keys) await keyv.set(k, value)
    },
    run: inFlight
      ? (ops) => pool(ops, get)
      : async (ops) => {
          for (let i = 0; i < ops; i++) await get(i)
        },
  }
}

async function getScenario(inFlight: boolean): Promise<Section> {
  const fx = fixture()
  const tag = inFlight ? 'get100' : 'get'
  const keyv = await keyvOrReason(`keyv_${tag}`, fx)
  const cache = ourCache(`ours_${tag}`, fx)
  const cases = [
    // Ours first: its setup writes the documents both cases read.
    ourGetCase('cacheado await get', cache, inFlight),
    rawGetCase('raw driver findOne + unpack', cache.storage.collection, inFlight),
    ...(typeof keyv === 'string' ? [] : [keyvGetCase('keyv + @keyv/mongo get', keyv, inFlight)]),
  ]
  try {
    const results = await measure(cases, OPTIONS)
    const title = inFlight ? `get-hit, ${IN_FLIGHT} in flight` : 'get-hit, sequential'
    const notes = [
      `${KEYS} keys, a small object value (${packed.byteLength} bytes of msgpack); both read the same documents`,
    ]
    if (typeof keyv === 'string') notes.push(keyv)
    const section = ratioSection(title, results, 'cacheado await get', notes)
    const target = atLeastPaired(
      `${title}: cacheado vs raw findOne`,
      results,
      'cacheado await get',
      'raw driver findOne + unpack',
      0.8,
    )
    return { ...section, targets: [target] }
  } finally {
    await cleanup(fx, [cache])
  }
}

async function setScenario(): Promise<Section> {
  const fx = fixture()
  const keyv = await keyvOrReason('keyv_set', fx)
  const cache = ourCache('ours_set', fx)
  const raw = fx.collection('raw_set')
  const cases: Case[] = [
    {
      name: 'raw driver updateOne upsert + pack',
      // The same fields cacheado writes (an update that changes nothing is skipped by the server).
      run: async (ops) => {
        for (let i = 0; i < ops; i++) {
          const $set = {
            v: new Binary(serializer.serialize(value)),
            expiresAt: null,
            scopes: [],
            accessedAt: tick++,
          }
          await raw.updateOne({ _id: keys[i & MASK]! }, { $set }, { upsert: true })
        }
      },
    },
    {
      name: 'cacheado await set',
      run: async (ops) => {
        for (let i = 0; i < ops; i++) await cache.set(keys[i & MASK]!, value)
      },
    },
  ]
  if (typeof keyv !== 'string') {
    cases.push({
      name: 'keyv + @keyv/mongo set',
      run: async (ops) => {
        for (let i = 0; i < ops; i++) await keyv.set(keys[i & MASK]!, value)
      },
    })
  }
  try {
    const results = await measure(cases, OPTIONS)
    const notes = [
      `overwrites over ${KEYS} keys; no bounds (a bound adds a count, and a find + delete when full)`,
    ]
    if (typeof keyv === 'string') notes.push(keyv)
    const section = ratioSection('set', results, 'cacheado await set', notes)
    const target = atLeastPaired(
      'set: cacheado vs raw updateOne',
      results,
      'cacheado await set',
      'raw driver updateOne upsert + pack',
      0.8,
    )
    return { ...section, targets: [target] }
  } finally {
    await cleanup(fx, [cache])
  }
}

/** Documents of `users` users (10 entries each) in cacheado's layout, inserted directly (prefill only). */
function userDocs(users: number, from = 0) {
  const docs = []
  for (let u = from; u < from + users; u++) {
    const scope = [
      { level: 'organization', id: `org-${u >> 6}` },
      { level: 'user', id: `user-${u}` },
    ]
    for (let e = 0; e < ENTRIES_PER_USER; e++) {
      const tick = Date.now() * 1000 + u * ENTRIES_PER_USER + e
      docs.push({
        _id: encodeEntryRef({ scope, key: directKey(`setting-${e}`) }),
        v: new Binary(packed),
        expiresAt: null,
        scopes: scopeKeys(scope),
        createdAt: tick,
        accessedAt: tick,
      })
    }
  }
  return docs
}

async function evictScopeScenario(): Promise<Section> {
  const fx = fixture()
  const cache = ourCache('ours_scope', fx)
  const users = Math.max(1, Math.floor(SCOPE_DOCS / ENTRIES_PER_USER))
  const collection = fx.client.db(DB).collection(fx.collections.at(-1)!)
  try {
    await cache.set('warm', 1) // creates the indexes before the prefill
    const docs = userDocs(users)
    for (let i = 0; i < docs.length; i += 5000)
      await collection.insertMany(docs.slice(i, i + 5000) as never[])
    const samples: number[] = []
    const rawSamples: number[] = []
    let removed = 0
    for (let round = 0; round < 7; round++) {
      const u = (round * 7919) % users
      const path = scopeKeys([
        { level: 'organization', id: `org-${u >> 6}` },
        { level: 'user', id: `user-${u}` },
      ])[1]!
      let started = process.hrtime.bigint()
      await collection.deleteMany({ scopes: path })
      rawSamples.push(Number(process.hrtime.bigint() - started) / 1e6)
      await collection.insertMany(userDocs(1, u) as never[]) // put them back (untimed)
      started = process.hrtime.bigint()
      removed = await cache.evictByScope('user', { orgId: `org-${u >> 6}`, userId: `user-${u}` })
      samples.push(Number(process.hrtime.bigint() - started) / 1e6)
      await collection.insertMany(userDocs(1, u) as never[])
    }
    const row = (name: string, values: number[]) => [
      name,
      medianOf(values).toFixed(2),
      percentile(values, 90).toFixed(2),
      Math.min(...values).toFixed(2),
      Math.max(...values).toFixed(2),
    ]
    return {
      title: `evictByScope of one user among ${(users * ENTRIES_PER_USER).toLocaleString('en')} documents`,
      notes: [
        `${users} users x ${ENTRIES_PER_USER} entries, prefilled with insertMany in cacheado's layout`,
        'both: one deleteMany on `scopes`, which uses the `scopes` index where the server has one',
        `removed ${removed} entries per call`,
      ],
      headers: ['case', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      rows: [
        row('raw driver deleteMany({ scopes })', rawSamples),
        row('cacheado evictByScope(user)', samples),
      ],
    }
  } finally {
    await cleanup(fx, [cache])
  }
}

async function cleanup(fx: Fixture, caches: readonly Cache<typeof scopes, MongoDBStorage>[]): Promise<void> {
  await Promise.all(caches.map((c) => c.close()))
  const db = fx.client.db(DB)
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name))
  for (const name of fx.collections) if (existing.has(name)) await db.dropCollection(name)
  await fx.client.close()
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'get', run: async () => [await getScenario(false)] },
  { name: 'get100', run: async () => [await getScenario(true)] },
  { name: 'set', run: async () => [await setScenario()] },
  { name: 'evict-scope', run: async () => [await evictScopeScenario()] },
]

/** The MongoDB suite (see the module comment). */
export const suite: Suite = {
  name: 'mongodb',
  description: 'MongoDBStorage vs the raw mongodb driver and keyv + @keyv/mongo',
  scenarios: SCENARIOS.map((s) => s.name),
  run: (context) => runScenarios(SCENARIOS, context),
}
