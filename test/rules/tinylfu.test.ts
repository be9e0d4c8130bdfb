// TinyLFUEvict (issue 15 item 3): the bound holds after every operation (fast-check model over random
// get / set / evict / evictByScope / clear sequences, global and per user), hooks stay isolated, the
// policy admits and rejects as designed (a scan does not flush a hot set, a loop a little larger than
// the bound keeps most of its keys), and shared backends refuse it at construction.
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { CacheError, CacheRule, EntryRef, StorageProvider } from '../../src/index.js'
import { Cache, ConfigurationError, LRUEvict, MISS, RuleError, TinyLFUEvict } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { TieredStorage } from '../../src/tiers/tiered-storage.js'
import type { TierListener } from '../../src/tiers/tiered-storage.js'
import { FrequencySketch, hashString } from '../../src/storage/memory/frequency-sketch.js'
import { sharedStorages } from '../support/shared-storages.js'
import { redisUrl, uniqueName } from '../support/services.js'

const USERS = ['u1', 'u2', 'u3'] as const
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const
const user = (userId: string) => ({ scope: 'user', orgId: 'o1', userId }) as const

type Op =
  | { kind: 'set'; user: number; key: number; value: number }
  | { kind: 'get'; user: number; key: number }
  | { kind: 'evict'; user: number; key: number }
  | { kind: 'evictUser'; user: number }
  | { kind: 'clear' }

const userIndex = fc.integer({ min: 0, max: USERS.length - 1 })
const keyIndex = fc.integer({ min: 0, max: KEYS.length - 1 })
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      user: userIndex,
      key: keyIndex,
      value: fc.nat(),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('get' as const), user: userIndex, key: keyIndex }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('evict' as const), user: userIndex, key: keyIndex }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evictUser' as const), user: userIndex }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
)

/** Entries the cache may hold, from its own eviction reports: `user/key` -> last value written. */
function tracked(): { rule: CacheRule; present: Map<string, number> } {
  const present = new Map<string, number>()
  const rule: CacheRule = {
    name: 'tracker',
    onEvict: ({ ref }) => {
      if (ref !== undefined) present.delete(`${ref.scope[1]!.id}/${ref.key}`)
    },
  }
  return { rule, present }
}

describe('TinyLFUEvict: the bound holds after every operation (model)', () => {
  for (const [label, maxItems, per] of [
    ['whole cache, 5', 5, undefined],
    ['per user, 3', 3, 'user'],
    ['whole cache, 1', 1, undefined],
  ] as const) {
    it(`${label}: never more than maxItems, reads return the last write, the newest write is kept`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
          const { rule, present } = tracked()
          const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems, per }), rule] })
          cache.on('evict', () => undefined) // evicted refs are reported
          for (const o of ops) {
            const scope = 'user' in o ? user(USERS[o.user]!) : undefined
            const id = 'key' in o ? `${USERS[o.user]}/${KEYS[o.key]}` : ''
            if (o.kind === 'set') {
              cache.setSync(KEYS[o.key]!, o.value, scope)
              present.set(id, o.value)
              // The entry just written is never the one the bound evicts.
              expect(cache.getSync(KEYS[o.key]!, scope)).toBe(o.value)
            } else if (o.kind === 'get') {
              const value = cache.getSync(KEYS[o.key]!, scope)
              expect(value).toBe(present.get(id))
            } else if (o.kind === 'evict') {
              cache.evictSync(KEYS[o.key]!, scope)
              present.delete(id)
            } else if (o.kind === 'evictUser') {
              cache.evictByScopeSync('user', { orgId: 'o1', userId: USERS[o.user]! })
              for (const k of [...present.keys()]) if (k.startsWith(`${USERS[o.user]}/`)) present.delete(k)
            } else {
              cache.clearSync()
              present.clear()
            }
            const total = cache.statsSync().totalKeys
            expect(total).toBe(present.size)
            if (per === undefined) expect(total).toBeLessThanOrEqual(maxItems)
            else {
              for (const u of USERS) {
                const held = [...present.keys()].filter((k) => k.startsWith(`${u}/`)).length
                expect(held).toBeLessThanOrEqual(maxItems)
              }
            }
          }
          void cache.close()
        }),
        { numRuns: 300 },
      )
    })
  }

  it('combines with a per-user LRUEvict bound: both hold after each of 3 000 random writes and reads', () => {
    const { rule, present } = tracked()
    const cache = new Cache({
      rules: [new TinyLFUEvict({ maxItems: 20 }), new LRUEvict({ maxItems: 4, per: 'user' }), rule],
    })
    cache.on('evict', () => undefined)
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(22), fc.nat(16), fc.boolean()), { minLength: 3000, maxLength: 3000 }),
        (steps) => {
          cache.clearSync()
          present.clear()
          for (const [u, k, read] of steps) {
            const scope = user(`u${u}`)
            if (read) expect(cache.getSync(`k${k}`, scope)).toBe(present.get(`u${u}/k${k}`))
            else {
              cache.setSync(`k${k}`, k, scope)
              present.set(`u${u}/k${k}`, k)
            }
            expect(present.size).toBeLessThanOrEqual(20)
            const perUser = new Map<string, number>()
            for (const id of present.keys())
              perUser.set(id.split('/')[0]!, (perUser.get(id.split('/')[0]!) ?? 0) + 1)
            for (const held of perUser.values()) expect(held).toBeLessThanOrEqual(4)
          }
          expect(cache.statsSync().totalKeys).toBe(present.size)
        },
      ),
      { numRuns: 5 },
    )
    void cache.close()
  })
})

/** Reads `key` through `cache`, writing it on a miss; whether it was a hit. */
function access(cache: Cache, key: string): boolean {
  if (cache.getSync(key) !== undefined) return true
  cache.setSync(key, key)
  return false
}

describe('TinyLFUEvict: admission', () => {
  it('a scan of keys read once does not flush a hot set (LRU loses it)', () => {
    const results: Record<string, number> = {}
    for (const [name, rule] of [
      ['tinylfu', new TinyLFUEvict({ maxItems: 100 })],
      ['lru', new LRUEvict({ maxItems: 100 })],
    ] as const) {
      const cache = new Cache({ rules: [rule] })
      for (let round = 0; round < 5; round++) for (let i = 0; i < 60; i++) access(cache, `hot:${i}`)
      for (let i = 0; i < 1000; i++) access(cache, `scan:${i}`)
      let kept = 0
      for (let i = 0; i < 60; i++) if (cache.getSync(`hot:${i}`) !== undefined) kept++
      results[name] = kept
      expect(cache.statsSync().totalKeys).toBe(100)
      void cache.close()
    }
    expect(results).toEqual({ tinylfu: 60, lru: 0 })
  })

  it('reads that answer expiries (getWithMetadata, expiresAt) count as uses like get', () => {
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems: 100 })] })
    for (let i = 0; i < 60; i++) cache.setSync(`hot:${i}`, i)
    for (let round = 0; round < 5; round++)
      for (let i = 0; i < 60; i++) {
        expect(cache.getWithMetadataSync(`hot:${i}`).status).toBe('hit')
        expect(cache.expiresAtSync(`hot:${i}`)).toBeNull()
      }
    for (let i = 0; i < 1000; i++) access(cache, `scan:${i}`)
    let kept = 0
    for (let i = 0; i < 60; i++) if (cache.hasSync(`hot:${i}`)) kept++
    expect(kept).toBe(60)
    void cache.close()
  })

  it('a key used often while in the window wins its place in the main space', () => {
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems: 100 })] })
    for (let i = 0; i < 100; i++) access(cache, `old:${i}`)
    cache.setSync('popular', 1)
    for (let i = 0; i < 4; i++) cache.getSync('popular')
    for (let i = 0; i < 500; i++) access(cache, `once:${i}`)
    expect(cache.getSync('popular')).toBe(1)
    void cache.close()
  })

  it('a loop a little larger than the bound keeps most of its keys (LRU: none)', () => {
    const ratio = (rule: CacheRule) => {
      const cache = new Cache({ rules: [rule] })
      let hits = 0
      for (let cycle = 0; cycle < 30; cycle++) {
        for (let i = 0; i < 110; i++) if (access(cache, `loop:${i}`) && cycle >= 10) hits++
      }
      void cache.close()
      return hits / (20 * 110)
    }
    expect(ratio(new TinyLFUEvict({ maxItems: 100 }))).toBeGreaterThan(0.6)
    expect(ratio(new LRUEvict({ maxItems: 100 }))).toBe(0)
  })

  it('per user: one user scanning does not evict another user’s entries', () => {
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems: 10, per: 'user' })] })
    for (let i = 0; i < 10; i++) cache.setSync(`q${i}`, i, user('quiet'))
    for (let i = 0; i < 500; i++) cache.setSync(`n${i}`, i, user('noisy'))
    for (let i = 0; i < 10; i++) expect(cache.getSync(`q${i}`, user('quiet'))).toBe(i)
    expect(cache.statsSync().totalKeys).toBe(20)
    void cache.close()
  })

  it('evictByScope and clear forget the group: a new working set is admitted afresh', () => {
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems: 10, per: 'user' })] })
    for (let round = 0; round < 20; round++) for (let i = 0; i < 10; i++) access(cache, `old${i}`)
    const u = user('u1')
    for (let round = 0; round < 20; round++)
      for (let i = 0; i < 10; i++) if (cache.getSync(`x${i}`, u) === undefined) cache.setSync(`x${i}`, i, u)
    expect(cache.evictByScopeSync('user', { orgId: 'o1', userId: 'u1' })).toBe(10)
    for (let i = 0; i < 10; i++) cache.setSync(`y${i}`, i, u)
    for (let i = 0; i < 10; i++) expect(cache.getSync(`y${i}`, u)).toBe(i)
    cache.clearSync()
    for (let i = 0; i < 10; i++) cache.setSync(`z${i}`, i, u)
    for (let i = 0; i < 10; i++) expect(cache.getSync(`z${i}`, u)).toBe(i)
    expect(cache.statsSync().totalKeys).toBe(10)
    void cache.close()
  })
})

describe('TinyLFUEvict: hooks and errors', () => {
  it('a throwing hook beside it keeps the bound, fails no caller; evictions are reported as maxItems', async () => {
    const reasons: string[] = []
    const boom: CacheRule = {
      name: 'boom',
      onGet: () => {
        throw new Error('get failed')
      },
      onSet: () => {
        throw new Error('set failed')
      },
      onEvict: () => {
        throw new Error('evict failed')
      },
    }
    const counting: CacheRule = { name: 'counting', onEvict: ({ reason }) => void reasons.push(reason) }
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxItems: 3 }), boom, counting] })
    const errors: CacheError[] = []
    cache.on('error', (error) => errors.push(error))
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
    expect(await cache.get('k9')).toBe(9)
    expect((await cache.stats()).totalKeys).toBe(3)
    expect(reasons).toEqual(Array(7).fill('maxItems'))
    expect((await cache.stats()).evictionsByReason.maxItems).toBe(7)
    expect(errors.length).toBeGreaterThan(0)
    for (const error of errors) expect(error).toBeInstanceOf(RuleError)
    await cache.close()
  })

  it('refuses bad options and a second TinyLFUEvict with a ConfigurationError', () => {
    expect(() => new TinyLFUEvict({ maxItems: 0 })).toThrow(ConfigurationError)
    expect(() => new TinyLFUEvict(undefined as never)).toThrow(/TinyLFUEvict needs options/)
    expect(() => new TinyLFUEvict({ maxItems: 5, per: 'global' })).toThrow(/per must be the name/)
    expect(() => new Cache({ rules: [new TinyLFUEvict({ maxItems: 5, per: 'team' })] })).toThrow(
      /not a scope level/,
    )
    expect(
      () =>
        new Cache({
          rules: [new TinyLFUEvict({ maxItems: 5 }), new TinyLFUEvict({ maxItems: 2, per: 'user' })],
        }),
    ).toThrow(/at most one TinyLFUEvict/)
  })

  it('a storage that does not list tinylfu in boundOrders refuses it (LRU still accepted)', async () => {
    const memory = new Cache()
    const base = memory.storage
    const classic = Object.create(base, { boundOrders: { value: undefined } }) as StorageProvider
    expect(() => new Cache({ storage: classic, rules: [new TinyLFUEvict({ maxItems: 5 })] })).toThrow(
      /TinyLFUEvict is not enforced by the in_memory storage.*local: \{ maxItems, policy: 'tinylfu' \}/,
    )
    await memory.close()
  })
})

const shared = sharedStorages('tinylfu')
describe.skipIf(shared.length === 0)('TinyLFUEvict on shared backends', () => {
  const opened: StorageProvider[] = []
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()))
  })
  it.each(shared.map((s) => [s.name, s] as const))(
    '%s refuses it at construction, naming the way out',
    (_, s) => {
      const storage = s.make()
      opened.push(storage)
      expect(() => new Cache({ storage, rules: [new TinyLFUEvict({ maxItems: 5 })] })).toThrow(
        ConfigurationError,
      )
      expect(() => new Cache({ storage, rules: [new TinyLFUEvict({ maxItems: 5 })] })).toThrow(
        new RegExp(`TinyLFUEvict is not enforced by the ${storage.storageType} storage`),
      )
    },
  )
})

describe('FrequencySketch', () => {
  it('a first access marks the doorkeeper; counts up to 15 (+1), halves every 7 x capacity increments', () => {
    const sketch = new FrequencySketch(64)
    const hot = hashString('hot', 0)
    sketch.increment(hot)
    expect(sketch.frequency(hot)).toBe(1) // the doorkeeper only
    for (let i = 0; i < 20; i++) sketch.increment(hot)
    expect(sketch.frequency(hot)).toBe(16)
    // Keys seen once stay out of the counters: 100 of them leave the estimates of others near 0.
    for (let i = 0; i < 100; i++) sketch.increment(hashString(`once${i}`, 2))
    let others = 0
    for (let i = 0; i < 100; i++) others += sketch.frequency(hashString(`cold${i}`, 0))
    expect(others).toBeLessThan(20)
    // 200 counted increments of other keys (each key's first access goes to the doorkeeper): no aging
    // yet (3 x capacity would have aged it).
    for (let i = 0; i < 300; i++) sketch.increment(hashString(`filler${i % 100}`, 1))
    expect(sketch.frequency(hot)).toBe(16)
    // 448 counted increments age every counter once and clear the doorkeeper: 15 -> 7, plus the first
    // access: 8.
    for (let i = 300; i < 600; i++) sketch.increment(hashString(`filler${i % 100}`, 1))
    expect(sketch.frequency(hot)).toBe(8)
  })
})

describe.skipIf(redisUrl === undefined)("local tier with policy: 'tinylfu' over Redis", () => {
  const quiet: TierListener = {
    busMessage: () => undefined,
    busReset: () => undefined,
    circuitOpen: () => undefined,
    circuitClose: () => undefined,
    error: () => undefined,
  }
  const ref = (key: string): EntryRef => ({ scope: [{ level: 'organization', id: 'o1' }], key })

  it.each(['tinylfu', 'lru'] as const)(
    'policy %s: L1 holds its bound; a scan keeps the hot copies only under tinylfu',
    async (policy) => {
      const tier = new TieredStorage(
        new RedisStorage({ url: redisUrl!, prefix: uniqueName('tinylfu-l1') }),
        { maxItems: 50, policy, bus: false },
        quiet,
      )
      tier.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
      try {
        for (let i = 0; i < 30; i++) await tier.set(ref(`hot${i}`), i, undefined)
        for (let round = 0; round < 5; round++)
          for (let i = 0; i < 30; i++) expect(await tier.get(ref(`hot${i}`))).toBe(i)
        for (let i = 0; i < 300; i++) {
          await tier.set(ref(`scan${i}`), i, undefined)
          expect(tier.localSize).toBeLessThanOrEqual(50)
        }
        let kept = 0
        for (let i = 0; i < 30; i++) if (tier.peek(ref(`hot${i}`)) !== MISS) kept++
        expect(kept).toBe(policy === 'tinylfu' ? 30 : 0)
        // What L1 dropped is still read from Redis.
        expect(await tier.get(ref('scan0'))).toBe(0)
        await tier.evictScope([])
        expect(tier.localSize).toBe(0)
      } finally {
        await tier.close()
      }
    },
  )

  it('refuses an unknown local.policy', async () => {
    const storage = new RedisStorage({ url: 'redis://127.0.0.1:1', prefix: uniqueName('cfg') })
    try {
      expect(() => new Cache({ storage, local: { policy: 'lfu' } as never })).toThrow(
        /local.policy must be 'lru' or 'tinylfu', got "lfu"/,
      )
    } finally {
      await storage.close()
    }
  })

  it('a Cache with local policy tinylfu and an LRUEvict bound on Redis works end to end', async () => {
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('tinylfu-cache') }),
      rules: [new LRUEvict({ maxItems: 1000 })],
      local: { maxItems: 20, policy: 'tinylfu', bus: false },
    })
    try {
      for (let i = 0; i < 100; i++) await cache.set(`k${i}`, i)
      for (let i = 0; i < 100; i++) expect(await cache.get(`k${i}`)).toBe(i)
    } finally {
      await cache.close()
    }
  })
})
