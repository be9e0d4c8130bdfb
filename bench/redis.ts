/**
 * The Redis suite: cacheado's `RedisStorage` beside raw ioredis (the floor: the same round trip with
 * nothing around it), ioredis with auto-pipelining, bentocache with its Redis driver only (no L1) and
 * keyv + @keyv/redis, against the server in `CACHEADO_REDIS_URL`.
 *
 * Scenarios: get-hit sequential and with 100 in flight, set with a TTL sequential and with 100 in
 * flight, memoized hit, `getMany` of 100 keys (`getmany`), and `evictByScope` of one user (10 entries) among `CACHEADO_BENCH_REDIS_KEYS`
 * keys (default 1 000 000). The raw cases read the very data keys cacheado wrote and unpack them with
 * the same msgpack serializer, so apart from the library around it every case does the same work.
 *
 * Every case writes under a prefix unique to this run and removes what it wrote at the end (ours with
 * `clear()`, the peers' keys by their prefix), so repeated runs do not grow the server.
 */
import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import { createKeyv } from '@keyv/redis'
import type { Keyv } from 'keyv'
import { Redis } from 'ioredis'
import { Cache, MsgpackSerializer, ScopeConfig, ScopeLevel } from '../src/index.js'
import { RedisStorage } from '../src/redis.js'
import { RedisKeys } from '../src/storage/redis/keys.js'
import { encodeEntryRef, encodeSegment } from '../src/storage/key-encoding.js'
import { directKey } from '../src/keys/entry-key.js'
import type { Case, Measurement, MeasureOptions } from './harness.js'
import { IN_FLIGHT, measure, medianOf, opCase, percentile } from './harness.js'
import type { Scenario, Section, Suite, TargetCheck } from './report.js'
import { ratioSection, runScenarios } from './report.js'
import { invalidateTagsScenario, taggedGetScenario } from './redis-tags.js'

const URL_ = process.env.CACHEADO_REDIS_URL ?? ''
const KEYS = 1024
const MASK = KEYS - 1
const TTL_MS = 60_000
export const SCOPE_KEYS = Number(process.env.CACHEADO_BENCH_REDIS_KEYS ?? 1_000_000)
export const ENTRIES_PER_USER = 10
export const USERS_PER_ORG = 64
/** Round trips take tens of microseconds: short rounds, a few more of them than for MongoDB. */
const OPTIONS: MeasureOptions = { rounds: 15, targetRoundMs: 150, minOps: 256, maxOps: 262_144 }
/**
 * Sequential tables: twice the rounds, because their target (10 µs/op above raw) is far below the
 * round-to-round noise of a small VM (single rounds of one case differ by 50 µs/op and more).
 */
export const SEQUENTIAL_OPTIONS: MeasureOptions = { ...OPTIONS, rounds: 31, targetRoundMs: 100 }

/** Targets of issue 3 (reported, never asserted). */
const IN_FLIGHT_MIN_RATIO = 0.9
const SEQUENTIAL_MAX_EXTRA_US = 10
const EVICT_MAX_MS = 2

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`)
const value = { id: 42, name: 'a typical small cached object', tags: ['a', 'b'], at: new Date(0) }
const serializer = new MsgpackSerializer()
const packed = Buffer.from(serializer.serialize(value))
/** Unique to this run: every key written here contains it. */
const RUN = `cacheado_bench_${process.pid}_${Date.now().toString(36)}`

type OurCache = Cache<typeof scopes, RedisStorage>

/** Everything a scenario opened, closed and cleaned up in one place. */
export class Fixture {
  readonly caches: OurCache[] = []
  readonly clients: Redis[] = []
  readonly bentos: Bento[] = []
  readonly keyvs: Keyv[] = []
  readonly #admin = new Redis(URL_)

  ours(name: string): OurCache {
    const cache: OurCache = new Cache({
      scopes,
      storage: new RedisStorage({ url: URL_, prefix: `${RUN}_${name}`, commandTimeoutMs: 60_000 }),
    })
    this.caches.push(cache)
    return cache
  }

  /**
   * A second cache on the same prefix as `cache` (so it sees the same entries) whose storage creates
   * its client with `autoPipelining: false`: what auto-pipelining changes for ours.
   */
  oursWithoutAutoPipelining(cache: OurCache): OurCache {
    const twin: OurCache = new Cache({
      scopes,
      storage: new RedisStorage({
        url: URL_,
        prefix: cache.storage.prefix,
        commandTimeoutMs: 60_000,
        autoPipelining: false,
      }),
    })
    this.caches.push(twin)
    return twin
  }

  /** A raw ioredis client (`auto`: with `enableAutoPipelining`). */
  raw(auto: boolean): Redis {
    const client = new Redis(URL_, { enableAutoPipelining: auto })
    this.clients.push(client)
    return client
  }

  /** bentocache with one store: the Redis driver as its L2, no L1. */
  bento(name: string): Bento {
    const bento = new BentoCache({
      default: 'redis',
      stores: {
        redis: bentostore().useL2Layer(
          redisDriver({ connection: new Redis(URL_), prefix: `${RUN}_${name}` }),
        ),
      },
    })
    this.bentos.push(bento)
    return bento
  }

  /** keyv + @keyv/redis, or the reason it cannot run here. */
  async keyv(name: string): Promise<Keyv | string> {
    let keyv: Keyv
    try {
      keyv = createKeyv(URL_, { namespace: `${RUN}_${name}`, throwOnConnectError: true })
    } catch (error) {
      return `keyv + @keyv/redis: not run (${(error as Error).message})`
    }
    let failure: unknown
    keyv.on('error', (error: unknown) => (failure ??= error))
    const probe = keyv.set('probe', 1).then(() => 'ok' as const)
    const waited = await Promise.race([
      probe,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref()),
    ])
    if (waited === 'ok' && failure === undefined) {
      this.keyvs.push(keyv)
      return keyv
    }
    probe.catch(() => undefined)
    const reason = failure instanceof Error ? failure.message : 'no answer within 5 s'
    return `keyv + @keyv/redis: not run here (${reason})`
  }

  /** Closes everything; returns how many keys of this run were left behind (then removes them). */
  async close(): Promise<number> {
    for (const cache of this.caches) await cache.clear()
    for (const bento of this.bentos) await bento.clear()
    for (const keyv of this.keyvs) await keyv.clear()
    await Promise.all(this.caches.map((c) => c.close()))
    await Promise.all(this.bentos.map((b) => b.disconnect()))
    await Promise.all(this.keyvs.map((k) => k.disconnect()))
    await Promise.all(this.clients.map((c) => c.quit()))
    // The raw cases wrote under `${RUN}_raw...`; anything else of this run is a leftover.
    let leftovers = 0
    for (const pattern of [`${RUN}_raw*`, `${RUN}*`]) {
      let cursor = '0'
      do {
        const [next, found] = await this.#admin.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000)
        cursor = next
        if (found.length !== 0) {
          if (pattern !== `${RUN}_raw*`) leftovers += found.length
          await this.#admin.unlink(...found)
        }
      } while (cursor !== '0')
    }
    await this.#admin.quit()
    return leftovers
  }
}

type Bento = BentoCache<{ redis: ReturnType<typeof bentostore> }>

/** Data keys cacheado uses for the global-scope keys `keys` under `prefix`. */
function dataKeysOf(prefix: string): string[] {
  const names = new RedisKeys(prefix)
  return keys.map((k) => names.data(encodeEntryRef({ scope: [], key: directKey(k) })))
}

/** Median over rounds of the per-operation time of `a` minus that of `b`, in microseconds. */
function pairedExtraUs(a: Measurement, b: Measurement): number {
  const n = Math.min(a.samples.length, b.samples.length)
  const diffs: number[] = []
  for (let r = 0; r < n; r++) diffs.push(1e6 / a.samples[r]! - 1e6 / b.samples[r]!)
  return medianOf(diffs)
}

function byName(results: readonly Measurement[], name: string): Measurement {
  const found = results.find((m) => m.name === name)
  if (found === undefined) throw new Error(`no measurement named ${name}`)
  return found
}

/** Sequential target: ours at most 10 µs per operation above the raw row. */
function extraTarget(title: string, results: readonly Measurement[], ours: string, raw: string): TargetCheck {
  const extra = pairedExtraUs(byName(results, ours), byName(results, raw))
  const best = 1e6 / byName(results, ours).maxOpsPerSec - 1e6 / byName(results, raw).maxOpsPerSec
  return {
    name: `${title}: ${ours} above ${raw}`,
    target: `<= ${SEQUENTIAL_MAX_EXTRA_US} µs/op`,
    measured: `${extra >= 0 ? '+' : ''}${extra.toFixed(1)} µs/op (best rounds ${best >= 0 ? '+' : ''}${best.toFixed(1)})`,
    met: extra <= SEQUENTIAL_MAX_EXTRA_US,
  }
}

/** In-flight target: ours at least 0.9x the faster of the two raw ioredis rows. */
function inFlightTarget(
  title: string,
  results: readonly Measurement[],
  ours: string,
  raws: readonly string[],
): TargetCheck {
  const best = raws.map((r) => byName(results, r)).reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a))
  const o = byName(results, ours)
  const n = Math.min(o.samples.length, best.samples.length)
  const ratio = medianOf(Array.from({ length: n }, (_, r) => o.samples[r]! / best.samples[r]!))
  return {
    name: `${title}: ${ours} vs best raw row (${best.name})`,
    target: `>= ${IN_FLIGHT_MIN_RATIO}x`,
    measured: `${ratio.toFixed(2)}x (best rounds ${(o.maxOpsPerSec / best.maxOpsPerSec).toFixed(2)}x)`,
    met: ratio >= IN_FLIGHT_MIN_RATIO,
  }
}

/**
 * Adds the paired difference to ours in µs/op, and this process's CPU time per op: on a shared VM the
 * wall-clock difference of sequential rows varies by tens of µs between runs, while the CPU column
 * shows the client-side work of each library on its own.
 */
function withExtraColumn(section: Section, results: readonly Measurement[], ours: string): Section {
  const o = byName(results, ours)
  return {
    ...section,
    headers: [...section.headers, 'ours - this (µs/op)', 'client CPU µs/op'],
    rows: section.rows.map((row) => {
      const m = byName(results, row[0]!)
      const cpu = m.cpuUsPerOp.toFixed(1)
      if (row[0] === ours) return [...row, '(ours)', cpu]
      const extra = pairedExtraUs(o, m)
      return [...row, `${extra >= 0 ? '+' : ''}${extra.toFixed(1)}`, cpu]
    }),
  }
}

const RAW = 'raw ioredis'
const AUTO = 'ioredis autopipelining'

async function getScenario(inFlight: boolean): Promise<Section> {
  const fx = new Fixture()
  const tag = inFlight ? 'get100' : 'get'
  try {
    const cache = fx.ours(tag)
    const dataKeys = dataKeysOf(cache.storage.prefix)
    const raw = fx.raw(false)
    const auto = fx.raw(true)
    const bento = fx.bento(`bento_${tag}`)
    const keyv = await fx.keyv(`keyv_${tag}`)
    const ours = 'cacheado await get'
    const rawGet = (client: Redis) => async (i: number) =>
      serializer.deserialize((await client.getBuffer(dataKeys[i & MASK]!))!)
    const cases: Case[] = [
      // Ours first: its setup writes the keys the raw rows read.
      opCase(
        ours,
        inFlight,
        (i) => cache.get(keys[i & MASK]!),
        async () => {
          for (const k of keys) await cache.set(k, value)
        },
      ),
      opCase(`${RAW} GET + unpack`, inFlight, rawGet(raw)),
      opCase(`${AUTO} GET + unpack`, inFlight, rawGet(auto)),
      opCase(
        'bentocache (redis only) get',
        inFlight,
        (i) => bento.get({ key: keys[i & MASK]! }),
        async () => {
          for (const k of keys) await bento.set({ key: k, value, ttl: '1h' })
        },
      ),
    ]
    if (inFlight) {
      const twin = fx.oursWithoutAutoPipelining(cache)
      cases.push(opCase(`${ours} (autoPipelining: false)`, inFlight, (i) => twin.get(keys[i & MASK]!)))
    }
    if (typeof keyv !== 'string') {
      cases.push(
        opCase(
          'keyv + @keyv/redis get',
          inFlight,
          (i) => keyv.get(keys[i & MASK]!),
          async () => {
            for (const k of keys) await keyv.set(k, value)
          },
        ),
      )
    }
    const results = await measure(cases, inFlight ? OPTIONS : SEQUENTIAL_OPTIONS)
    const title = inFlight ? `get-hit, ${IN_FLIGHT} in flight` : 'get-hit, sequential'
    const notes = [
      `${KEYS} keys, a small object (${packed.byteLength} bytes of msgpack); the raw rows read the keys cacheado wrote`,
      'bentocache and keyv encode with JSON (their default); no bounds on ours (a GET alone, concurrent reads of one tick share one MGET)',
      ...(inFlight
        ? [
            'ours creates its client with auto-pipelining (its default); the "autoPipelining: false" row is ours without it',
          ]
        : []),
    ]
    if (typeof keyv === 'string') notes.push(keyv)
    const section = withExtraColumn(ratioSection(title, results, ours, notes), results, ours)
    const target = inFlight
      ? inFlightTarget(title, results, ours, [`${RAW} GET + unpack`, `${AUTO} GET + unpack`])
      : extraTarget(title, results, ours, `${RAW} GET + unpack`)
    return { ...section, targets: [target] }
  } finally {
    await fx.close()
  }
}

async function setScenario(inFlight: boolean): Promise<Section> {
  const fx = new Fixture()
  const tag = inFlight ? 'set100' : 'set'
  try {
    const cache = fx.ours(tag)
    const raw = fx.raw(false)
    const auto = fx.raw(true)
    const bento = fx.bento(`bento_${tag}`)
    const keyv = await fx.keyv(`keyv_${tag}`)
    const rawKeys = keys.map((k) => `${RUN}_raw_${tag}:${k}`)
    const ours = 'cacheado await set (ttl)'
    const rawSet = (client: Redis) => (i: number) =>
      client.set(rawKeys[i & MASK]!, Buffer.from(serializer.serialize(value)), 'PX', TTL_MS)
    const cases: Case[] = [
      opCase(ours, inFlight, (i) => cache.set(keys[i & MASK]!, value, { ttlSeconds: TTL_MS / 1000 })),
      opCase(`${RAW} SET PX + pack`, inFlight, rawSet(raw)),
      opCase(`${AUTO} SET PX + pack`, inFlight, rawSet(auto)),
      opCase('bentocache (redis only) set', inFlight, (i) =>
        bento.set({ key: keys[i & MASK]!, value, ttl: TTL_MS }),
      ),
    ]
    if (inFlight) {
      const twin = fx.oursWithoutAutoPipelining(cache)
      cases.push(
        opCase(`${ours} (autoPipelining: false)`, inFlight, (i) =>
          twin.set(keys[i & MASK]!, value, { ttlSeconds: TTL_MS / 1000 }),
        ),
      )
    }
    if (typeof keyv !== 'string') {
      cases.push(opCase('keyv + @keyv/redis set', inFlight, (i) => keyv.set(keys[i & MASK]!, value, TTL_MS)))
    }
    const results = await measure(cases, inFlight ? OPTIONS : SEQUENTIAL_OPTIONS)
    const title = inFlight ? `set with TTL, ${IN_FLIGHT} in flight` : 'set with TTL, sequential'
    const notes = [
      `overwrites over ${KEYS} keys, TTL ${TTL_MS / 1000} s; ours: one Lua script per tenant for the writes of one tick (values + scope indexes, atomically), no bounds`,
      ...(inFlight
        ? ['the "autoPipelining: false" row is ours without auto-pipelining (on by default)']
        : []),
    ]
    if (typeof keyv === 'string') notes.push(keyv)
    const section = withExtraColumn(ratioSection(title, results, ours, notes), results, ours)
    const target = inFlight
      ? inFlightTarget(title, results, ours, [`${RAW} SET PX + pack`, `${AUTO} SET PX + pack`])
      : extraTarget(title, results, ours, `${RAW} SET PX + pack`)
    return { ...section, targets: [target] }
  } finally {
    await fx.close()
  }
}

async function memoScenario(): Promise<Section> {
  const fx = new Fixture()
  try {
    const compute = (n: number): number => n * 2 + 1
    const cache = fx.ours('memo')
    const memo = cache.cache({ namespace: 'compute' })(async (n: number) => compute(n))
    const bento = fx.bento('bento_memo')
    const raw = fx.raw(false)
    for (let n = 0; n < KEYS; n++) {
      await memo(n)
      await bento.getOrSet({ key: `compute:${n}`, factory: () => compute(n), ttl: '1h' })
    }
    // The raw row reads the very keys the memoized function wrote (the only entries under its prefix).
    const memoKeys: string[] = []
    let cursor = '0'
    do {
      const [next, found] = await raw.scan(cursor, 'MATCH', `${cache.storage.prefix}:*:d:*`, 'COUNT', 1000)
      cursor = next
      memoKeys.push(...found)
    } while (cursor !== '0')
    if (memoKeys.length !== KEYS)
      throw new Error(`expected ${KEYS} memoized entries, found ${memoKeys.length}`)
    const ours = 'cacheado memoized async fn'
    const rawRow = `${RAW} GET + unpack`
    const results = await measure(
      [
        opCase(ours, false, (i) => memo(i & MASK)),
        opCase(rawRow, false, async (i) =>
          serializer.deserialize((await raw.getBuffer(memoKeys[i & MASK]!))!),
        ),
        opCase('bentocache (redis only) getOrSet', false, (i) => {
          const n = i & MASK
          return bento.getOrSet({ key: `compute:${n}`, factory: () => compute(n), ttl: '1h' })
        }),
      ],
      SEQUENTIAL_OPTIONS,
    )
    const title = 'memoized hit, sequential'
    const section = withExtraColumn(
      ratioSection(title, results, ours, [
        `memoized async function of one numeric argument, ${KEYS} distinct arguments, all cached in Redis`,
        'raw row: GET + unpack of the same keys the memoized function wrote',
      ]),
      results,
      ours,
    )
    return { ...section, targets: [extraTarget(title, results, ours, rawRow)] }
  } finally {
    await fx.close()
  }
}

/**
 * Writes users `from .. from + count - 1` (10 entries each) directly in cacheado's layout (data keys,
 * both scope indexes, the tag marker and the tag registry), pipelined: a prefill, not a benchmark.
 */
export async function fillUsers(client: Redis, names: RedisKeys, from: number, count: number): Promise<void> {
  const pipeline = client.pipeline()
  for (let u = from; u < from + count; u++) {
    const org = `org-${Math.floor(u / USERS_PER_ORG)}`
    const path = [
      { level: 'organization', id: org },
      { level: 'user', id: `user-${u}` },
    ]
    const tag = encodeSegment('organization', org)
    const msetArgs: (string | Buffer)[] = []
    const zaddArgs: string[] = []
    for (let e = 0; e < ENTRIES_PER_USER; e++) {
      const member = encodeEntryRef({ scope: path, key: directKey(`setting-${e}`) })
      msetArgs.push(names.data(member), packed)
      zaddArgs.push('+inf', member)
    }
    pipeline.mset(...msetArgs)
    pipeline.zadd(names.index(path), ...zaddArgs)
    pipeline.zadd(names.rootIndex(tag), ...zaddArgs)
    if (u % USERS_PER_ORG === 0 || u === from) {
      pipeline.set(`${names.base(tag)}r`, '1')
      pipeline.sadd(names.registry, tag)
    }
  }
  const replies = await pipeline.exec()
  const failed = replies?.find(([error]) => error !== null)
  if (failed) throw failed[0]!
}

async function evictScopeScenario(): Promise<Section> {
  const fx = new Fixture()
  try {
    const cache = fx.ours('scope')
    const names = new RedisKeys(cache.storage.prefix)
    const client = fx.raw(false)
    const users = Math.max(1, Math.floor(SCOPE_KEYS / ENTRIES_PER_USER))
    const fillStarted = performance.now()
    const BATCH = 2000
    const inFlightBatches: Promise<void>[] = []
    for (let u = 0; u < users; u += BATCH) {
      inFlightBatches.push(fillUsers(client, names, u, Math.min(BATCH, users - u)))
      if (inFlightBatches.length === 4) await Promise.all(inFlightBatches.splice(0))
    }
    await Promise.all(inFlightBatches)
    const fillSeconds = (performance.now() - fillStarted) / 1000
    const total = await cache.stats().then((s) => s.totalKeys ?? 0)
    const dbsize = await client.dbsize()

    const samples: number[] = []
    const rawSamples: number[] = []
    let removed = 0
    for (let round = 0; round < 15; round++) {
      const u = (round * 7919) % users
      const org = `org-${Math.floor(u / USERS_PER_ORG)}`
      const path = [
        { level: 'organization', id: org },
        { level: 'user', id: `user-${u}` },
      ]
      const dataKeys = Array.from({ length: ENTRIES_PER_USER }, (_, e) =>
        names.data(encodeEntryRef({ scope: path, key: directKey(`setting-${e}`) })),
      )
      let started = process.hrtime.bigint()
      await client.del(...dataKeys)
      rawSamples.push(Number(process.hrtime.bigint() - started) / 1e6)
      await fillUsers(client, names, u, 1) // put them back (untimed)
      started = process.hrtime.bigint()
      removed = await cache.evictByScope('user', { orgId: org, userId: `user-${u}` })
      samples.push(Number(process.hrtime.bigint() - started) / 1e6)
      await fillUsers(client, names, u, 1)
    }
    const row = (name: string, values: number[]) => [
      name,
      medianOf(values).toFixed(3),
      percentile(values, 90).toFixed(3),
      Math.min(...values).toFixed(3),
      Math.max(...values).toFixed(3),
    ]
    const median = medianOf(samples)
    const clearStarted = performance.now()
    const cleared = await cache.clear()
    const clearSeconds = (performance.now() - clearStarted) / 1000
    const title = `evictByScope of one user among ${total.toLocaleString('en')} entries`
    return {
      title,
      notes: [
        `${users.toLocaleString('en')} users x ${ENTRIES_PER_USER} entries (${USERS_PER_ORG} users per organization), written in cacheado's layout with pipelined MSET/ZADD in ${fillSeconds.toFixed(1)} s; DBSIZE ${dbsize.toLocaleString('en')}`,
        `ours: one Lua script reading the user's index (O(entries of the user)); removed ${removed} entries per call; ${samples.length} calls`,
        'floor: one DEL of the 10 data keys whose names are known (no index upkeep)',
        `clear() of all ${cleared.toLocaleString('en')} entries afterwards took ${clearSeconds.toFixed(1)} s`,
      ],
      headers: ['case', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      rows: [
        row('raw ioredis DEL of the 10 data keys', rawSamples),
        row('cacheado evictByScope(user)', samples),
      ],
      targets: [
        {
          name: `${title}: cacheado evictByScope median`,
          target: `< ${EVICT_MAX_MS} ms`,
          measured: `${median.toFixed(3)} ms`,
          met: median < EVICT_MAX_MS,
        },
      ],
    }
  } finally {
    const leftovers = await fx.close()
    if (leftovers !== 0) console.log(`note: ${leftovers} keys of this run were left after clear() (removed)`)
  }
}

/** Keys per bulk read in the `getmany` scenario. */
const BATCH = 100
/** Target of issue 13: one getMany of 100 keys at least 5x as fast as 100 sequential gets. */
const GET_MANY_MIN_RATIO = 5

/**
 * `getMany` of 100 keys vs 100 sequential `get`s of ours, raw ioredis `MGET` + unpack of the same data
 * keys (the floor: one command, nothing around it) and keyv's `getMany`. One operation = one batch of
 * 100 keys. bentocache has no bulk read (only a get per key), so it has no row here.
 */
async function getManyScenario(): Promise<Section> {
  const fx = new Fixture()
  try {
    const cache = fx.ours('getmany')
    const dataKeys = dataKeysOf(cache.storage.prefix)
    const raw = fx.raw(false)
    const keyv = await fx.keyv('keyv_getmany')
    const batches = Array.from({ length: KEYS / BATCH }, (_, b) => keys.slice(b * BATCH, (b + 1) * BATCH))
    const rawBatches = Array.from({ length: KEYS / BATCH }, (_, b) =>
      dataKeys.slice(b * BATCH, (b + 1) * BATCH),
    )
    const batchOf = (i: number) => i % batches.length
    const ours = `cacheado getMany(${BATCH} keys)`
    const sequential = `cacheado ${BATCH} sequential await get`
    const cases: Case[] = [
      opCase(
        ours,
        false,
        (i) => cache.getMany(batches[batchOf(i)]!),
        async () => {
          await cache.setMany(keys.map((key) => ({ key, value })))
        },
      ),
      opCase(sequential, false, async (i) => {
        for (const key of batches[batchOf(i)]!) await cache.get(key)
      }),
      opCase(`${RAW} MGET + unpack`, false, async (i) =>
        (await raw.mgetBuffer(rawBatches[batchOf(i)]!)).map((b) =>
          b === null ? undefined : serializer.deserialize(b),
        ),
      ),
    ]
    if (typeof keyv !== 'string') {
      cases.push(
        opCase(
          `keyv + @keyv/redis getMany(${BATCH} keys)`,
          false,
          (i) => keyv.getMany(batches[batchOf(i)]!),
          async () => {
            for (const k of keys) await keyv.set(k, value)
          },
        ),
      )
    }
    const results = await measure(cases, OPTIONS)
    const title = `getMany of ${BATCH} keys, sequential batches`
    const notes = [
      `one operation = one batch of ${BATCH} keys among ${KEYS}; all hits, a small object (${packed.byteLength} bytes of msgpack)`,
      'bentocache has no bulk read (a get per key): no row; keyv encodes with JSON (its default)',
    ]
    if (typeof keyv === 'string') notes.push(keyv)
    const section = withExtraColumn(ratioSection(title, results, ours, notes), results, ours)
    const o = byName(results, ours)
    const seq = byName(results, sequential)
    const n = Math.min(o.samples.length, seq.samples.length)
    const ratio = medianOf(Array.from({ length: n }, (_, r) => o.samples[r]! / seq.samples[r]!))
    return {
      ...section,
      targets: [
        {
          name: `${title}: ${ours} vs ${sequential}`,
          target: `>= ${GET_MANY_MIN_RATIO}x`,
          measured: `${ratio.toFixed(1)}x`,
          met: ratio >= GET_MANY_MIN_RATIO,
        },
      ],
    }
  } finally {
    await fx.close()
  }
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'get', run: async () => [await getScenario(false)] },
  { name: 'get100', run: async () => [await getScenario(true)] },
  { name: 'set', run: async () => [await setScenario(false)] },
  { name: 'set100', run: async () => [await setScenario(true)] },
  { name: 'memo', run: async () => [await memoScenario()] },
  { name: 'evict-scope', run: async () => [await evictScopeScenario()] },
  { name: 'tags-invalidate', run: async () => [await invalidateTagsScenario()] },
  { name: 'tags-get', run: async () => [await taggedGetScenario()] },
  { name: 'getmany', run: async () => [await getManyScenario()] },
]

/** The Redis suite (see the module comment). */
export const suite: Suite = {
  name: 'redis',
  description:
    'RedisStorage vs raw ioredis (plain and auto-pipelined), bentocache (redis driver, no L1) and keyv + @keyv/redis',
  scenarios: SCENARIOS.map((s) => s.name),
  run: (context) => runScenarios(SCENARIOS, context),
}
