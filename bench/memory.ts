/**
 * The in-memory suite: cacheado's in-memory storage side by side with lru-cache, bentocache (memory
 * L1), cacheable (`CacheableMemory` and `Cacheable`) and a raw `Map`, in one process and one run.
 *
 * Every case runs its own loop over precomputed keys (key arrays have a power-of-two length and are
 * indexed with a mask). Sync cases are compared with sync cases, async with async. Heap per entry runs
 * in child processes (see `heap-child.ts`).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { LRUCache } from 'lru-cache'
import { Cache, LRUEvict } from '../src/index.js'
import type { Case } from './harness.js'
import { collectGarbage, formatRatio, measure, medianOf, percentile } from './harness.js'
import type { HeapLib, HeapReport } from './heap-child.js'
import { HEAP_LIBS } from './heap-child.js'
import type { Bento } from './peers.js'
import { newBento, newCacheable, newCacheableMemory, newLru, newOurs } from './peers.js'
import type { Scenario, Section, Suite, TargetCheck } from './report.js'
import { atLeastPaired, ratioSection, runScenarios } from './report.js'

/** Number of distinct keys in the hit/miss/set scenarios (a power of two). */
const KEYS = 16_384
const MASK = KEYS - 1
/** Bound of every bounded cache in scenarios 1-5: large enough that nothing is evicted. */
const BOUND = 65_536

/** A small value object, shared by all libraries (everyone stores by reference). */
interface Value {
  readonly n: number
}

const values: Value[] = Array.from({ length: KEYS }, (_, n) => ({ n }))
const keys: string[] = Array.from({ length: KEYS }, (_, i) => `key:${i}`)
const absentKeys: string[] = Array.from({ length: KEYS }, (_, i) => `absent:${i}`)

/** Scoped layout of the `KEYS` entries: 64 orgs x 32 users x 8 keys. */
const orgIds: string[] = []
const userIds: string[] = []
const scopedKeys: string[] = []
for (let i = 0; i < KEYS; i++) {
  const org = i >> 8
  const user = (i >> 3) & 31
  orgIds.push(`org-${org}`)
  userIds.push(`user-${org}-${user}`)
  scopedKeys.push(`setting-${i & 7}`)
}

async function dispose(
  bento: Bento | undefined,
  cacheable: { disconnect(): Promise<void> } | undefined,
): Promise<void> {
  await bento?.disconnect()
  await cacheable?.disconnect()
}

// ---------------------------------------------------------------------------------------------
// 1-3. get-hit, get-miss, set

async function directScenarios(): Promise<Section[]> {
  const ours = newOurs(BOUND)
  const oursFree = newOurs(undefined)
  const lru = newLru<Value>(BOUND)
  const map = new Map<string, Value>()
  const cmem = newCacheableMemory(BOUND)
  const cmemTuned = newCacheableMemory(BOUND, 1)
  const bento = newBento(BOUND)
  const cacheable = newCacheable(BOUND)
  for (let i = 0; i < KEYS; i++) {
    const k = keys[i]!
    const v = values[i]!
    cmemTuned.set(k, v)
    ours.setSync(k, v)
    oursFree.setSync(k, v)
    lru.set(k, v)
    map.set(k, v)
    cmem.set(k, v)
    await bento.set({ key: k, value: v })
    await cacheable.set(k, v)
  }

  const sections: Section[] = []
  const note = `${KEYS} keys prefilled at global scope; bounded caches hold up to ${BOUND} (no evictions).`

  // get-hit
  const hitSync = await measure([
    syncCase('cacheado getSync', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (ours.getSync(keys[i & MASK]!) !== undefined) s++
      return s
    }),
    syncCase('cacheado getSync (no rules)', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (oursFree.getSync(keys[i & MASK]!) !== undefined) s++
      return s
    }),
    syncCase('lru-cache get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (lru.get(keys[i & MASK]!) !== undefined) s++
      return s
    }),
    syncCase('Map get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (map.get(keys[i & MASK]!) !== undefined) s++
      return s
    }),
    syncCase('cacheable CacheableMemory get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (cmem.get<Value>(keys[i & MASK]!) !== undefined) s++
      return s
    }),
    syncCase('cacheable CacheableMemory get (storeHashSize 1)', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (cmemTuned.get<Value>(keys[i & MASK]!) !== undefined) s++
      return s
    }),
  ])
  const hitAsync = await measure([
    asyncCase('cacheado await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if ((await ours.get(keys[i & MASK]!)) !== undefined) s++
      return s
    }),
    asyncCase('bentocache await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if ((await bento.get<Value>({ key: keys[i & MASK]! })) !== undefined) s++
      return s
    }),
    asyncCase('cacheable await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if ((await cacheable.get<Value>(keys[i & MASK]!)) !== undefined) s++
      return s
    }),
  ])
  sections.push(
    withTargets(ratioSection('1a. get-hit, sync', hitSync, 'cacheado getSync', [note]), [
      atLeastPaired('sync get-hit vs lru-cache get', hitSync, 'cacheado getSync', 'lru-cache get', 0.5),
      atLeastPaired(
        'sync get-hit vs lru-cache get (issue 12)',
        hitSync,
        'cacheado getSync',
        'lru-cache get',
        0.6,
      ),
    ]),
    ratioSection('1b. get-hit, async', hitAsync, 'cacheado await get', [note]),
    ...(await randomHitScenario()),
  )

  // get-miss
  const missSync = await measure([
    syncCase('cacheado getSync', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (ours.getSync(absentKeys[i & MASK]!) === undefined) s++
      return s
    }),
    syncCase('lru-cache get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (lru.get(absentKeys[i & MASK]!) === undefined) s++
      return s
    }),
    syncCase('Map get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (map.get(absentKeys[i & MASK]!) === undefined) s++
      return s
    }),
    syncCase('cacheable CacheableMemory get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (cmem.get<Value>(absentKeys[i & MASK]!) === undefined) s++
      return s
    }),
  ])
  const missAsync = await measure([
    asyncCase('cacheado await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if ((await ours.get(absentKeys[i & MASK]!)) === undefined) s++
      return s
    }),
    asyncCase('bentocache await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++)
        if ((await bento.get<Value>({ key: absentKeys[i & MASK]! })) === undefined) s++
      return s
    }),
    asyncCase('cacheable await get', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if ((await cacheable.get<Value>(absentKeys[i & MASK]!)) === undefined) s++
      return s
    }),
  ])
  const missNote = `Lookups of ${KEYS} keys that were never set, in a cache holding ${KEYS} other keys.`
  sections.push(
    ratioSection('2a. get-miss, sync', missSync, 'cacheado getSync', [missNote]),
    ratioSection('2b. get-miss, async', missAsync, 'cacheado await get', [missNote]),
  )

  // set (overwrite of existing keys: steady state, no eviction)
  const setSync = await measure([
    syncCase('cacheado setSync', (ops) => {
      for (let i = 0; i < ops; i++) ours.setSync(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
    syncCase('lru-cache set', (ops) => {
      for (let i = 0; i < ops; i++) lru.set(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
    syncCase('Map set', (ops) => {
      for (let i = 0; i < ops; i++) map.set(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
    syncCase('cacheable CacheableMemory set', (ops) => {
      for (let i = 0; i < ops; i++) cmem.set(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
  ])
  const setAsync = await measure([
    asyncCase('cacheado await set', async (ops) => {
      for (let i = 0; i < ops; i++) await ours.set(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
    asyncCase('bentocache await set', async (ops) => {
      for (let i = 0; i < ops; i++) await bento.set({ key: keys[i & MASK]!, value: values[i & MASK]! })
      return ops
    }),
    asyncCase('cacheable await set', async (ops) => {
      for (let i = 0; i < ops; i++) await cacheable.set(keys[i & MASK]!, values[i & MASK]!)
      return ops
    }),
  ])
  const setNote = `Overwrites of ${KEYS} existing keys (no TTL, no eviction).`
  sections.push(
    ratioSection('3a. set, sync', setSync, 'cacheado setSync', [setNote]),
    ratioSection('3b. set, async', setAsync, 'cacheado await set', [setNote]),
  )
  await dispose(bento, cacheable)
  return sections
}

/** Distinct keys of the random get-hit table (issue 12: "with 100,000 random keys"). */
const RANDOM_KEYS = 100_000
/** Length of its precomputed random read sequence (a power of two). */
const RANDOM_SEQ = 1 << 18

/** 1c. get-hit, sync, over 100,000 keys read in a seeded random order (most reads miss the CPU caches). */
async function randomHitScenario(): Promise<Section[]> {
  const ours = newOurs(2 * RANDOM_KEYS)
  const lru = newLru<Value>(2 * RANDOM_KEYS)
  const map = new Map<string, Value>()
  const randomKeys = Array.from({ length: RANDOM_KEYS }, (_, i) => `item:${i}`)
  for (let i = 0; i < RANDOM_KEYS; i++) {
    const value: Value = { n: i }
    ours.setSync(randomKeys[i]!, value)
    lru.set(randomKeys[i]!, value)
    map.set(randomKeys[i]!, value)
  }
  const random = prng(7)
  const seq = Array.from({ length: RANDOM_SEQ }, () => randomKeys[Math.floor(random() * RANDOM_KEYS)]!)
  const seqMask = RANDOM_SEQ - 1
  const hits = await measure([
    syncCase('cacheado getSync', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (ours.getSync(seq[i & seqMask]!) !== undefined) s++
      return s
    }),
    syncCase('lru-cache get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (lru.get(seq[i & seqMask]!) !== undefined) s++
      return s
    }),
    syncCase('Map get', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) if (map.get(seq[i & seqMask]!) !== undefined) s++
      return s
    }),
  ])
  const note = `${RANDOM_KEYS} keys prefilled at global scope, read in a seeded random order; LRU bound ${2 * RANDOM_KEYS} (no evictions).`
  return [
    withTargets(ratioSection('1c. get-hit, sync, 100,000 random keys', hits, 'cacheado getSync', [note]), [
      atLeastPaired(
        'sync get-hit, 100,000 random keys, vs lru-cache get (issue 12)',
        hits,
        'cacheado getSync',
        'lru-cache get',
        0.6,
      ),
    ]),
  ]
}

function syncCase(name: string, run: (ops: number) => number): Case {
  return { name, run }
}

function asyncCase(name: string, run: (ops: number) => Promise<number>): Case {
  return { name, run }
}

function withTargets(section: Section, targets: readonly TargetCheck[]): Section {
  return { ...section, targets: [...(section.targets ?? []), ...targets] }
}

// ---------------------------------------------------------------------------------------------
// 4. scoped get-hit at `user` level

/** Our sync scoped read, timed again beside the async ones (issue 12: async >= 0.5x of it). */
const OWN_SYNC_SCOPED = 'cacheado getSync user scope (same table)'

async function scopedScenario(): Promise<Section[]> {
  const ours = newOurs(BOUND)
  const oursFree = newOurs(undefined)
  const lru = newLru<Value>(BOUND)
  const map = new Map<string, Value>()
  const cmem = newCacheableMemory(BOUND)
  const cmemTuned = newCacheableMemory(BOUND, 1)
  const bento = newBento(BOUND)
  const cacheable = newCacheable(BOUND)
  for (let i = 0; i < KEYS; i++) {
    const scope = { scope: 'user', orgId: orgIds[i]!, userId: userIds[i]! } as const
    const flat = `${orgIds[i]}:${userIds[i]}:${scopedKeys[i]}`
    const v = values[i]!
    ours.setSync(scopedKeys[i]!, v, scope)
    oursFree.setSync(scopedKeys[i]!, v, scope)
    lru.set(flat, v)
    map.set(flat, v)
    cmem.set(flat, v)
    cmemTuned.set(flat, v)
    await bento.set({ key: flat, value: v })
    await cacheable.set(flat, v)
  }
  const sync = await measure([
    syncCase('cacheado getSync user scope', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          ours.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
    syncCase('cacheado getSync user scope (no rules)', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          oursFree.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
    syncCase('lru-cache get `${org}:${user}:${key}`', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (lru.get(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`) !== undefined) s++
      }
      return s
    }),
    syncCase('Map get `${org}:${user}:${key}`', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (map.get(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`) !== undefined) s++
      }
      return s
    }),
    syncCase('cacheable CacheableMemory get `${org}:${user}:${key}`', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (cmem.get<Value>(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`) !== undefined) s++
      }
      return s
    }),
    syncCase('cacheable CacheableMemory get (storeHashSize 1)', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (cmemTuned.get<Value>(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`) !== undefined) s++
      }
      return s
    }),
  ])
  const async = await measure([
    asyncCase('cacheado await get user scope', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          (await ours.get(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! })) !==
          undefined
        )
          s++
      }
      return s
    }),
    asyncCase('bentocache await get `${org}:${user}:${key}`', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if ((await bento.get<Value>({ key: `${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}` })) !== undefined)
          s++
      }
      return s
    }),
    asyncCase('cacheable await get `${org}:${user}:${key}`', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if ((await cacheable.get<Value>(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`)) !== undefined) s++
      }
      return s
    }),
    asyncCase('cacheable CacheableMemory get `${org}:${user}:${key}`', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (cmem.get<Value>(`${orgIds[j]}:${userIds[j]}:${scopedKeys[j]}`) !== undefined) s++
      }
      return s
    }),
    syncCase(OWN_SYNC_SCOPED, (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          ours.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
  ])
  await dispose(bento, cacheable)
  const note =
    `${KEYS} entries: 64 orgs x 32 users x 8 keys. Ours passes { scope: 'user', orgId, userId }; ` +
    'peers get the concatenated key their users build, concatenation included in the timing.'
  const asyncName = 'cacheado await get user scope'
  return [
    ratioSection('4a. scoped get-hit (user level), sync', sync, 'cacheado getSync user scope', [note]),
    withTargets(
      ratioSection('4b. scoped get-hit (user level), async', async, asyncName, [
        note,
        'CacheableMemory is sync; it is listed here because the issue names "cacheable memory get" (its get without await).',
      ]),
      [
        atLeastPaired(
          'async scoped get-hit vs bentocache await get',
          async,
          asyncName,
          'bentocache await get `${org}:${user}:${key}`',
          10,
        ),
        atLeastPaired(
          'async scoped get-hit vs cacheable await get',
          async,
          asyncName,
          'cacheable await get `${org}:${user}:${key}`',
          10,
        ),
        atLeastPaired(
          'async scoped get-hit vs CacheableMemory get (sync)',
          async,
          asyncName,
          'cacheable CacheableMemory get `${org}:${user}:${key}`',
          10,
        ),
        atLeastPaired(
          'async scoped get-hit vs our own getSync (issue 12)',
          async,
          asyncName,
          OWN_SYNC_SCOPED,
          0.5,
        ),
      ],
    ),
  ]
}

// ---------------------------------------------------------------------------------------------
// 5. memoized hit

async function memoScenario(): Promise<Section[]> {
  const compute = (n: number): number => n * 2 + 1
  const ours = newOurs(BOUND)
  const oursMemo = ours.cache({ namespace: 'compute' })((n: number) => compute(n))
  const oursMemoAsync = ours.cache({ namespace: 'computeAsync' })(async (n: number) => compute(n))
  const lru = new LRUCache<number, number>({ max: BOUND, memoMethod: (k) => compute(k) })
  const cmem = newCacheableMemory(BOUND)
  const cmemWrapped = cmem.wrap((n: number) => compute(n), { keyPrefix: 'compute' })
  const bento = newBento(BOUND)
  const cacheable = newCacheable(BOUND)
  const cacheableWrapped = cacheable.wrap(async (n: number) => compute(n), { keyPrefix: 'compute' })
  for (let n = 0; n < KEYS; n++) {
    oursMemo(n)
    await oursMemoAsync(n)
    lru.memo(n)
    cmemWrapped(n)
    await bento.getOrSet({ key: `compute:${n}`, factory: () => compute(n) })
    await cacheableWrapped(n)
  }
  const sync = await measure([
    syncCase('cacheado memoized sync fn', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) s += oursMemo(i & MASK)
      return s
    }),
    syncCase('lru-cache memo()', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) s += lru.memo(i & MASK)
      return s
    }),
    syncCase('cacheable CacheableMemory wrap', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) s += cmemWrapped(i & MASK)
      return s
    }),
  ])
  const async = await measure([
    asyncCase('cacheado memoized async fn', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) s += await oursMemoAsync(i & MASK)
      return s
    }),
    asyncCase('bentocache getOrSet', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const n = i & MASK
        s += await bento.getOrSet({ key: `compute:${n}`, factory: () => compute(n) })
      }
      return s
    }),
    asyncCase('cacheable wrap (async)', async (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) s += await cacheableWrapped(i & MASK)
      return s
    }),
  ])
  await dispose(bento, cacheable)
  const note = `Memoized function of one numeric argument, ${KEYS} distinct arguments, all cached.`
  return [
    withTargets(ratioSection('5a. memoized hit, sync', sync, 'cacheado memoized sync fn', [note]), [
      atLeastPaired(
        'memoized sync hit vs lru-cache memo()',
        sync,
        'cacheado memoized sync fn',
        'lru-cache memo()',
        0.5,
      ),
      atLeastPaired(
        'memoized sync hit vs lru-cache memo() (issue 12)',
        sync,
        'cacheado memoized sync fn',
        'lru-cache memo()',
        0.6,
      ),
    ]),
    ratioSection('5b. memoized hit, async', async, 'cacheado memoized async fn', [
      note,
      'bentocache getOrSet builds its key string per call (`compute:${n}`), as its users do.',
    ]),
  ]
}

// ---------------------------------------------------------------------------------------------
// 6. 90/10 zipf-like mix, bounded at 10k

const MIX_BOUND = 10_000
const MIX_KEYSPACE = 100_000
const MIX_SEQ = 1 << 20
const MIX_SEQ_MASK = MIX_SEQ - 1

/** A small seeded PRNG (mulberry32), so every library replays the same sequence. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Key indexes drawn from a zipf(s = 0.99) distribution over the key space, and the read/write flags. */
function zipfSequence(): { readonly keyIdx: Uint32Array; readonly isWrite: Uint8Array } {
  const cdf = new Float64Array(MIX_KEYSPACE)
  let total = 0
  for (let r = 0; r < MIX_KEYSPACE; r++) cdf[r] = total += 1 / Math.pow(r + 1, 0.99)
  const random = prng(42)
  // Shuffle which key gets which rank, so hot keys are not the first-inserted ones.
  const perm = Uint32Array.from({ length: MIX_KEYSPACE }, (_, i) => i)
  for (let i = MIX_KEYSPACE - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = perm[i]!
    perm[i] = perm[j]!
    perm[j] = t
  }
  const keyIdx = new Uint32Array(MIX_SEQ)
  const isWrite = new Uint8Array(MIX_SEQ)
  for (let i = 0; i < MIX_SEQ; i++) {
    const u = random() * total
    let lo = 0
    let hi = MIX_KEYSPACE - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    keyIdx[i] = perm[lo]!
    isWrite[i] = random() < 0.1 ? 1 : 0
  }
  return { keyIdx, isWrite }
}

/** Hit/read counters of one mix case. */
interface MixCounters {
  reads: number
  hits: number
  cursor: number
}

async function mixScenario(): Promise<Section[]> {
  const { keyIdx, isWrite } = zipfSequence()
  const mixKeys = Array.from({ length: MIX_KEYSPACE }, (_, i) => `item:${i}`)
  const mixValues = Array.from({ length: MIX_KEYSPACE }, (_, n): Value => ({ n }))
  const ours = newOurs(MIX_BOUND)
  const lru = newLru<Value>(MIX_BOUND)
  const cmem = newCacheableMemory(MIX_BOUND)
  const bento = newBento(MIX_BOUND)
  const cacheable = newCacheable(MIX_BOUND)

  const counters = new Map<string, MixCounters>()
  const mixCase = (name: string, run: (ops: number, c: MixCounters) => unknown): Case => {
    const c: MixCounters = { reads: 0, hits: 0, cursor: 0 }
    counters.set(name, c)
    return {
      name,
      run: (ops) => run(ops, c),
      // Fill the cache with the first 2^17 operations, then count from zero.
      setup: async () => {
        await run(1 << 17, c)
        c.reads = 0
        c.hits = 0
      },
      extra: () => ({ 'hit ratio': `${((100 * c.hits) / c.reads).toFixed(1)}%` }),
    }
  }

  const sync = await measure([
    mixCase('cacheado getSync/setSync, LRUEvict 10k', (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) ours.setSync(mixKeys[k]!, mixValues[k]!)
        else {
          c.reads++
          if (ours.getSync(mixKeys[k]!) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
    mixCase('lru-cache get/set, max 10k', (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) lru.set(mixKeys[k]!, mixValues[k]!)
        else {
          c.reads++
          if (lru.get(mixKeys[k]!) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
    mixCase('cacheable CacheableMemory, lruSize 10k', (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) cmem.set(mixKeys[k]!, mixValues[k]!)
        else {
          c.reads++
          if (cmem.get<Value>(mixKeys[k]!) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
  ])
  const async = await measure([
    mixCase('cacheado await get/set, LRUEvict 10k', async (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) await ours.set(mixKeys[k]!, mixValues[k]!)
        else {
          c.reads++
          if ((await ours.get(mixKeys[k]!)) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
    mixCase('bentocache await get/set, maxItems 10k', async (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) await bento.set({ key: mixKeys[k]!, value: mixValues[k]! })
        else {
          c.reads++
          if ((await bento.get<Value>({ key: mixKeys[k]! })) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
    mixCase('cacheable await get/set, lruSize 10k', async (ops, c) => {
      let at = c.cursor
      for (let i = 0; i < ops; i++, at = (at + 1) & MIX_SEQ_MASK) {
        const k = keyIdx[at]!
        if (isWrite[at] === 1) await cacheable.set(mixKeys[k]!, mixValues[k]!)
        else {
          c.reads++
          if ((await cacheable.get<Value>(mixKeys[k]!)) !== undefined) c.hits++
        }
      }
      c.cursor = at
      return c.hits
    }),
  ])
  await dispose(bento, cacheable)
  const note =
    `90% reads / 10% writes, keys drawn zipf(0.99) over ${MIX_KEYSPACE.toLocaleString('en')} keys (seeded, the same ` +
    `sequence for everyone), every cache bounded at ${MIX_BOUND.toLocaleString('en')} entries. A read miss does not fill.`
  return [
    ratioSection('6a. 90/10 zipf mix, bounded at 10k, sync', sync, 'cacheado getSync/setSync, LRUEvict 10k', [
      note,
    ]),
    ratioSection('6b. 90/10 zipf mix, bounded at 10k, async', async, 'cacheado await get/set, LRUEvict 10k', [
      note,
    ]),
  ]
}

// ---------------------------------------------------------------------------------------------
// 7. heap bytes per entry at 1M entries (child processes)

function heapScenario(): Section[] {
  const child = fileURLToPath(new URL('./heap-child.ts', import.meta.url))
  const reports: HeapReport[] = []
  const failures: string[] = []
  for (const lib of HEAP_LIBS) {
    const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, lib], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    })
    const line = result.stdout.trim().split('\n').pop() ?? ''
    if (result.status !== 0 || !line.startsWith('{')) {
      failures.push(
        `${lib}: exit ${String(result.status)} ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`,
      )
      continue
    }
    reports.push(JSON.parse(line) as HeapReport)
  }
  const lru = reports.find((r) => r.lib === 'lru-cache')
  const ours = reports.find((r) => r.lib === 'cacheado-user-lru')
  const rows = reports.map((r) => [
    r.label,
    r.entries.toLocaleString('en'),
    r.heapBytesPerEntry.toFixed(1),
    r.totalBytesPerEntry.toFixed(1),
    lru === undefined ? '' : formatRatio(r.totalBytesPerEntry / lru.totalBytesPerEntry),
    (r.insertMs / 1000).toFixed(2),
  ])
  const targets: TargetCheck[] = []
  if (ours !== undefined && lru !== undefined) {
    const ratio = ours.totalBytesPerEntry / lru.totalBytesPerEntry
    targets.push({
      name: 'heap per entry at 1M (user scope, LRU) vs lru-cache',
      target: '<= 1.5x',
      measured: formatRatio(ratio),
      met: ratio <= 1.5,
    })
  }
  return [
    {
      title: '7. heap bytes per entry at 1M entries',
      notes: [
        'Each library in a fresh `node --expose-gc` child. Measured: process.memoryUsage() after gc(), before building ' +
          'the cache and after inserting 1,000,000 entries (value: a small integer; key strings built during insertion).',
        'Ours at `user` scope: 1000 orgs x 100 users x 10 keys (`orgId` o<n>, `userId` u<n>, key k<n>); ' +
          'peers and "ours, global" use the concatenated key `${orgId}:${userId}:${key}`.',
        '"heap+ab" = heapUsed + arrayBuffers (lru-cache keeps its links in typed arrays outside the JS heap); ratios use it.',
        ...failures.map((f) => `FAILED: ${f}`),
      ],
      headers: ['case', 'entries', 'heapUsed B/entry', 'heap+ab B/entry', 'vs lru-cache', 'insert s'],
      rows,
      targets,
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// 7b. heap per entry with and without a byte budget (child processes, interleaved)

/** Child runs per case of {@link heapBytesScenario}, alternating the two cases. */
const HEAP_BYTES_ROUNDS = 3

function heapChild(lib: HeapLib): HeapReport | string {
  const child = fileURLToPath(new URL('./heap-child.ts', import.meta.url))
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, lib], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  })
  const line = result.stdout.trim().split('\n').pop() ?? ''
  if (result.status !== 0 || !line.startsWith('{')) {
    return `${lib}: exit ${String(result.status)} ${result.stderr.trim().split('\n').slice(-3).join(' / ')}`
  }
  return JSON.parse(line) as HeapReport
}

/**
 * What a byte budget costs per entry: 1M entries under `LRUEvict({ maxItems })` and under
 * `LRUEvict({ maxItems, maxBytes })`, each in fresh children, alternated {@link HEAP_BYTES_ROUNDS} times.
 */
function heapBytesScenario(): Section[] {
  const plain: HeapReport[] = []
  const bytes: HeapReport[] = []
  const failures: string[] = []
  for (let round = 0; round < HEAP_BYTES_ROUNDS; round++) {
    const order: HeapLib[] =
      round % 2 === 0
        ? ['cacheado-user-lru', 'cacheado-user-lru-bytes']
        : ['cacheado-user-lru-bytes', 'cacheado-user-lru']
    for (const lib of order) {
      const report = heapChild(lib)
      if (typeof report === 'string') failures.push(report)
      else (lib === 'cacheado-user-lru' ? plain : bytes).push(report)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  const row = (label: string, reports: HeapReport[]) => [
    label,
    String(reports.length),
    median(reports.map((r) => r.totalBytesPerEntry)).toFixed(1),
    Math.min(...reports.map((r) => r.totalBytesPerEntry)).toFixed(1),
    (median(reports.map((r) => r.insertMs)) / 1000).toFixed(2),
  ]
  const ratio =
    median(bytes.map((r) => r.totalBytesPerEntry)) / median(plain.map((r) => r.totalBytesPerEntry))
  return [
    {
      title: '7b. heap bytes per entry with and without maxBytes (1M entries, user scope)',
      notes: [
        'Each run in a fresh `node --expose-gc` child, the two cases alternated; values are small integers.',
        ...failures.map((f) => `FAILED: ${f}`),
      ],
      headers: ['case', 'runs', 'heap+ab B/entry (median)', 'best', 'insert s (median)'],
      rows: [
        row('LRUEvict({ maxItems: 1M })', plain),
        row('LRUEvict({ maxItems: 1M, maxBytes: 1 TiB })', bytes),
      ],
      targets: [
        {
          name: 'heap per entry with maxBytes / without',
          target: '<= 1.1x',
          measured: formatRatio(ratio),
          met: ratio <= 1.1,
        },
      ],
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// 8. evictByScope of one user (10 entries) in a cache of 1M entries

async function evictScenario(): Promise<Section[]> {
  const ORGS = 1000
  const USERS = 100
  const PER_USER = 10
  const cache = newOurs(ORGS * USERS * PER_USER)
  const entryKeys = Array.from({ length: PER_USER }, (_, k) => `k${k}`)
  const fill = (org: number, user: number): void => {
    const scope = { scope: 'user', orgId: `o${org}`, userId: `u${org * USERS + user}` } as const
    for (const key of entryKeys) cache.setSync(key, org, scope)
  }
  for (let org = 0; org < ORGS; org++) for (let user = 0; user < USERS; user++) fill(org, user)
  collectGarbage()

  const SAMPLES = 1000
  const syncUs: number[] = []
  const asyncUs: number[] = []
  let removed = 0
  // Warm-up on a few users, re-filled afterwards.
  for (let s = 0; s < 50; s++) {
    cache.evictByScopeSync('user', { orgId: `o${s}`, userId: `u${s * USERS + 99}` })
    fill(s, 99)
  }
  for (let s = 0; s < SAMPLES; s++) {
    const org = s % ORGS
    const user = (s * 7) % USERS
    const params = { orgId: `o${org}`, userId: `u${org * USERS + user}` }
    const t0 = process.hrtime.bigint()
    removed += cache.evictByScopeSync('user', params)
    syncUs.push(Number(process.hrtime.bigint() - t0) / 1000)
    fill(org, user)
  }
  for (let s = 0; s < SAMPLES; s++) {
    const org = (s * 13) % ORGS
    const user = (s * 11 + 3) % USERS
    const params = { orgId: `o${org}`, userId: `u${org * USERS + user}` }
    const t0 = process.hrtime.bigint()
    removed += await cache.evictByScope('user', params)
    asyncUs.push(Number(process.hrtime.bigint() - t0) / 1000)
    fill(org, user)
  }
  const total = cache.statsSync().totalKeys ?? 0

  // For context: what a flat-key cache has to do for the same request (scan every key).
  const lru = newLru<number>(ORGS * USERS * PER_USER)
  for (let org = 0; org < ORGS; org++) {
    for (let user = 0; user < USERS; user++) {
      for (const key of entryKeys) lru.set(`o${org}:u${org * USERS + user}:${key}`, org)
    }
  }
  const scanUs: number[] = []
  for (let s = 0; s < 5; s++) {
    const prefix = `o${s}:u${s * USERS + 5}:`
    const t0 = process.hrtime.bigint()
    const doomed: string[] = []
    for (const k of lru.keys()) if (k.startsWith(prefix)) doomed.push(k)
    for (const k of doomed) lru.delete(k)
    scanUs.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  const us = (v: number) => v.toFixed(1)
  const syncMedian = medianOf(syncUs)
  return [
    {
      title: '8. evictByScope of one user (10 entries) in a cache of 1M entries',
      notes: [
        `1,000,000 entries at user scope (1000 orgs x 100 users x 10 keys), LRUEvict({ maxItems: 1_000_000 }); ` +
          `${SAMPLES} different users per row, each timed alone with hrtime, re-filled untimed. ` +
          `Entries removed per eviction: ${(removed / (2 * SAMPLES)).toFixed(1)}; entries after the run: ${total.toLocaleString('en')}.`,
        'The lru-cache row is context, not a peer feature: without a scope index, evicting a user means scanning every key (5 samples).',
      ],
      headers: ['case', 'median µs', 'p90 µs', 'p99 µs', 'max µs'],
      rows: [
        [
          'cacheado evictByScopeSync(user)',
          us(syncMedian),
          us(percentile(syncUs, 90)),
          us(percentile(syncUs, 99)),
          us(Math.max(...syncUs)),
        ],
        [
          'cacheado await evictByScope(user)',
          us(medianOf(asyncUs)),
          us(percentile(asyncUs, 90)),
          us(percentile(asyncUs, 99)),
          us(Math.max(...asyncUs)),
        ],
        ['lru-cache: scan keys by prefix + delete', us(medianOf(scanUs)), '', '', us(Math.max(...scanUs))],
      ],
      targets: [
        {
          name: 'evictByScope of one user with 10 entries in 1M (sync, median)',
          target: '< 100 µs',
          measured: `${us(syncMedian)} µs`,
          met: syncMedian < 100,
        },
      ],
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// 9. the cost of observation: listeners, per-tenant stats and timing on the scoped read path

async function observeScenario(): Promise<Section[]> {
  const plain = newOurs(BOUND)
  const withHitListener = newOurs(BOUND)
  let heard = 0
  withHitListener.on('hit', () => void heard++)
  const tracked = new Cache({
    rules: [new LRUEvict({ maxItems: BOUND })],
    stats: { topN: 100, levels: ['organization', 'user', 'session'] },
  })
  const timed = newOurs(BOUND)
  timed.on('operation', () => undefined)
  for (const cache of [plain, withHitListener, tracked, timed]) {
    for (let i = 0; i < KEYS; i++) {
      cache.setSync(scopedKeys[i]!, values[i]!, { scope: 'user', orgId: orgIds[i]!, userId: userIds[i]! })
    }
  }
  const sync = await measure([
    syncCase('cacheado getSync user scope, nobody listens', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          plain.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
    syncCase("with a 'hit' listener", (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          withHitListener.getSync(scopedKeys[j]!, {
            scope: 'user',
            orgId: orgIds[j]!,
            userId: userIds[j]!,
          }) !== undefined
        )
          s++
      }
      return s
    }),
    syncCase('with stats: { topN: 100 } (3 levels + namespaces)', (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          tracked.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
    syncCase("with an 'operation' listener (timing)", (ops) => {
      let s = 0
      for (let i = 0; i < ops; i++) {
        const j = i & MASK
        if (
          timed.getSync(scopedKeys[j]!, { scope: 'user', orgId: orgIds[j]!, userId: userIds[j]! }) !==
          undefined
        )
          s++
      }
      return s
    }),
  ])
  return [
    ratioSection(
      '9. the cost of observation, scoped get-hit, sync',
      sync,
      'cacheado getSync user scope, nobody listens',
      [
        `${KEYS} entries: 64 orgs x 32 users x 8 keys. Each row adds one observer to the same workload; ` +
          `"ours / this" above 1 is the slowdown it costs. The tracked cache counts 64 orgs and 2048 users in 100 buckets per level.`,
        `(${heard > 0 ? 'the hit listener ran' : 'no hit heard'})`,
      ],
    ),
  ]
}

// ---------------------------------------------------------------------------------------------

/** The scenarios of this suite, in run order; `npm run bench -- memory:mix,heap` selects some. */
const SCENARIOS: readonly Scenario[] = [
  { name: 'direct', run: directScenarios },
  { name: 'scoped', run: scopedScenario },
  { name: 'memo', run: memoScenario },
  { name: 'mix', run: mixScenario },
  { name: 'heap', run: heapScenario },
  { name: 'heap-bytes', run: heapBytesScenario },
  { name: 'evict', run: evictScenario },
  { name: 'observe', run: observeScenario },
]

/** The in-memory suite. */
export const suite: Suite = {
  name: 'memory',
  description: 'in-memory: cacheado vs lru-cache, bentocache (memory L1), cacheable (memory), Map',
  scenarios: SCENARIOS.map((s) => s.name),
  run: (context) => runScenarios(SCENARIOS, context, collectGarbage),
}
