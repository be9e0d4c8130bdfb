/**
 * One operation pipeline (issue 12, item 2): `get`/`set`/`evict` and memoized calls run through the
 * same code path, whose observer is swapped when listeners come and go. Whatever is listening, every
 * operation is counted and seen by rule hooks exactly once; events are emitted only while someone
 * listens, and nothing is emitted after the last listener left. Run on the in-memory storage and on
 * each real Redis (with and without the local tier), with hostile keys and scope ids.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CacheEvents, CacheRule, StorageProvider } from '../../src/index.js'
import type { ScopeConfig } from '../../src/index.js'
import { Cache, InMemory } from '../../src/index.js'
import { redisTargets } from '../support/redis-targets.js'
import { uniqueName } from '../support/services.js'

const open: Cache<ScopeConfig, StorageProvider>[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()))
})

/** Hostile inputs: control characters, separators, braces and a long key. */
const orgId = 'o:1/{x}\u0000|%'
const userId = 'u\n\u001b#m:'
const key = `#k:|\u0007${'x'.repeat(10_000)}`
const scope = { scope: 'user', orgId, userId } as const

type Heard = Record<'hit' | 'miss' | 'set' | 'evict' | 'operation', number>

function listeners(cache: Cache<ScopeConfig, StorageProvider>, heard: Heard) {
  const on = {
    hit: () => void heard.hit++,
    miss: () => void heard.miss++,
    set: () => void heard.set++,
    evict: () => void heard.evict++,
    operation: () => void heard.operation++,
  }
  const names = Object.keys(on) as (keyof typeof on)[]
  return {
    add: () => names.forEach((name) => cache.on(name as keyof CacheEvents, on[name] as never)),
    remove: () => names.forEach((name) => cache.off(name as keyof CacheEvents, on[name] as never)),
  }
}

/** A rule that counts what its hooks saw. */
function countingRule() {
  const seen = { gets: 0, hits: 0, sets: 0, evictions: 0 }
  const rule: CacheRule = {
    name: 'counting',
    onGet: (event) => {
      seen.gets++
      if (event.hit) seen.hits++
    },
    onSet: () => void seen.sets++,
    onEvict: () => void seen.evictions++,
  }
  return { rule, seen }
}

/** One round of direct and memoized operations: 2 hits, 2 misses, 2 sets, 1 eviction. */
async function round(cache: Cache<ScopeConfig, StorageProvider>, memo: (id: string) => Promise<string>) {
  await cache.set(key, { at: 1 }, scope)
  expect(await cache.get(key, scope)).toEqual({ at: 1 })
  expect(await memo('a')).toBe('a!') // miss, computed, stored
  expect(await memo('a')).toBe('a!') // hit
  expect(await cache.evict(key, scope)).toBe(true)
  expect(await cache.get(key, scope)).toBeUndefined() // miss
}

const backends: { name: string; storage: () => StorageProvider; local: boolean }[] = [
  { name: 'memory', storage: () => new InMemory(), local: false },
  ...redisTargets().flatMap((target) => [
    { name: `redis ${target.name}`, storage: () => target.storage(uniqueName('pipe')), local: false },
    {
      name: `redis ${target.name} + local tier`,
      storage: () => target.storage(uniqueName('pipe')),
      local: true,
    },
  ]),
]

describe.each(backends)('one pipeline on $name', ({ storage, local }) => {
  it('counts and shows every operation to rules whatever listens; events only while listened to', async () => {
    const { rule, seen } = countingRule()
    const cache = new Cache({
      storage: storage(),
      rules: [rule],
      ...(local ? { local: { ttlSeconds: 60 } } : {}),
    }) as unknown as Cache<ScopeConfig, StorageProvider>
    open.push(cache)
    let computed = 0
    const memo = cache.cache({ namespace: 'ns:|%', scope: 'user' })(async (
      _params: typeof scope,
      id: string,
    ) => {
      computed++
      return `${id}!`
    })
    const call = (id: string) => memo(scope, id)
    const heard: Heard = { hit: 0, miss: 0, set: 0, evict: 0, operation: 0 }
    const events = listeners(cache, heard)

    for (let i = 0; i < 3; i++) {
      // Unobserved, observed, unobserved again: the observer is swapped each time.
      if (i === 1) events.add()
      if (i === 2) events.remove()
      await cache.evictByScope('global')
      await round(cache, () => call('a'))
    }

    expect(computed).toBe(3)
    const counters = cache.counters()
    expect({ hits: counters.hits, misses: counters.misses, sets: counters.sets }).toEqual({
      hits: 6,
      misses: 6,
      sets: 6,
    })
    expect(seen).toEqual({ gets: 12, hits: 6, sets: 6, evictions: 6 })
    // Only the observed round was heard: 2 hits, 2 misses, 2 sets, 2 evictions; get, set and evict
    // timed (the memoized read and write, and evictByScope, included).
    expect({ ...heard, operation: heard.operation >= 7 }).toEqual({
      hit: 2,
      miss: 2,
      set: 2,
      evict: 2, // the memoized entry of the previous round (scope), then the direct one
      operation: true,
    })
  })
})

describe('one pipeline: failures', () => {
  it('a failing storage read fails the get but only reports for a memoized call (fail-open), observed or not', async () => {
    const broken = new InMemory()
    const cache = new Cache({ storage: broken })
    open.push(cache as unknown as Cache<ScopeConfig, StorageProvider>)
    const memo = cache.cache({ namespace: 'm' })((n: number) => n + 1)
    const get = broken.sync.get.bind(broken.sync)
    let failing = false
    broken.sync.get = (ref) => {
      if (failing) throw new Error('disk on fire')
      return get(ref)
    }
    // A memoized hit reads through an entry handle: its read path fails too.
    const sync = broken.sync as Required<typeof broken.sync>
    const handleOf = sync.handleOf.bind(sync)
    const getByHandle = sync.getByHandle.bind(sync)
    sync.handleOf = (ref) => {
      if (failing) throw new Error('disk on fire')
      return handleOf(ref)
    }
    sync.getByHandle = (handle) => {
      if (failing) throw new Error('disk on fire')
      return getByHandle(handle)
    }
    const errors: string[] = []
    cache.on('error', (error) => void errors.push(error.name))
    for (const observed of [false, true, false]) {
      const listener = () => undefined
      if (observed) cache.on('operation', listener)
      failing = true
      expect(() => cache.getSync('k')).toThrow(/disk on fire/)
      expect(memo(1)).toBe(2)
      failing = false
      expect(memo(1)).toBe(2)
      if (observed) cache.off('operation', listener)
    }
    expect(errors).toEqual(['StorageError', 'StorageError', 'StorageError'])
    expect(cache.counters().hits).toBe(3)
  })
})
