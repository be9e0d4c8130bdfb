import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CacheRule, RuleEvictEvent } from '../../src/index.js'
import {
  Cache,
  ConfigurationError,
  InMemory,
  LifeTimeEvict,
  LRUEvict,
  MaxItemsEvict,
  MISS,
} from '../../src/index.js'
import { ExpiryHeap } from '../../src/storage/memory/expiry-heap.js'
import type { MemoryStore } from '../../src/storage/memory/store.js'

describe('in-memory specifics', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval', 'setTimeout'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('counts an expired entry found by a read as an "expired" eviction and a miss', () => {
    const cache = new Cache()
    cache.setSync('k', 1, { ttlSeconds: 1 })
    vi.advanceTimersByTime(999)
    expect(cache.getSync('k')).toBe(1)
    vi.advanceTimersByTime(1)
    expect(cache.getSync('k')).toBeUndefined()
    expect(cache.statsSync()).toMatchObject({ hits: 1, misses: 1, evictions: 1, totalKeys: 0 })
    expect(cache.statsSync().evictionsByReason.expired).toBe(1)
  })

  it('evicting an expired entry answers false and counts it as expired', () => {
    const cache = new Cache()
    cache.setSync('k', 1, { ttlSeconds: 0.5 })
    vi.advanceTimersByTime(600)
    expect(cache.evictSync('k')).toBe(false)
    expect(cache.statsSync().evictionsByReason).toMatchObject({ expired: 1, explicit: 0 })
  })

  it('LifeTimeEvict reclaims expired entries nobody reads, with one timer', () => {
    const cache = new Cache({ rules: [new LifeTimeEvict({ sweepIntervalSeconds: 1 })] })
    for (let i = 0; i < 100; i++) cache.setSync(`k${i}`, i, { ttlSeconds: 0.5 + (i % 3) })
    cache.setSync('forever', 1)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1000)
    // entries with ttl 0.5s (i % 3 === 0: 34 of them) are gone without being read
    expect(cache.statsSync().evictionsByReason.expired).toBe(34)
    vi.advanceTimersByTime(2000)
    expect(cache.statsSync().evictionsByReason.expired).toBe(100)
    expect(cache.statsSync().totalKeys).toBe(1)
  })

  it('the sweeper timer does not keep the process alive and close() stops it', async () => {
    vi.useRealTimers()
    const storage = new InMemory()
    const cache = new Cache({ storage, rules: [new LifeTimeEvict()] })
    await cache.close()
    await cache.close()
    expect(storage.storageType).toBe('in_memory')
  })

  it('without LifeTimeEvict, writes still reclaim expired entries a few at a time', () => {
    let expired = 0
    const cache = new Cache({
      rules: [{ name: 'count', onEvict: (e) => void (expired += e.reason === 'expired' ? e.count : 0) }],
    })
    for (let i = 0; i < 10; i++) cache.setSync(`k${i}`, i, { ttlSeconds: 1 })
    vi.advanceTimersByTime(1500)
    cache.setSync('x', 1)
    expect(expired).toBe(4)
    expect(cache.statsSync().totalKeys).toBe(1) // size() reclaims the rest to be exact
    expect(cache.statsSync().evictionsByReason.expired).toBe(10)
  })

  it('overwriting entries many times does not grow the expiry heap without bound', () => {
    const storage = new InMemory()
    const cache = new Cache({ storage })
    for (let i = 0; i < 5000; i++) cache.setSync('same', i, { ttlSeconds: 3600 })
    expect((storage.sync as MemoryStore).pendingExpiries).toBeLessThan(2 * 1 + 1024 + 1)
    expect(cache.getSync('same')).toBe(4999)
    vi.advanceTimersByTime(3600_000)
    expect(cache.getSync('same')).toBeUndefined()
    expect(cache.statsSync().evictionsByReason.expired).toBe(1)
  })

  it('removes empty scope nodes, so idle tenants cost nothing and re-use works', () => {
    const cache = new Cache()
    for (let u = 0; u < 3; u++)
      cache.setSync('k', u, { scope: 'session', orgId: 'o', userId: `u${u}`, sessionId: 's' })
    for (let u = 0; u < 3; u++)
      expect(cache.evictSync('k', { scope: 'session', orgId: 'o', userId: `u${u}`, sessionId: 's' })).toBe(
        true,
      )
    expect(cache.evictByScopeSync('organization', { orgId: 'o' })).toBe(0)
    cache.setSync('k', 'again', { scope: 'session', orgId: 'o', userId: 'u1', sessionId: 's' })
    expect(cache.getSync('k', { scope: 'session', orgId: 'o', userId: 'u1', sessionId: 's' })).toBe('again')
    expect(cache.evictByScopeSync('user', { orgId: 'o', userId: 'u1' })).toBe(1)
  })

  it.each([
    ['MaxItemsEvict', () => new MaxItemsEvict({ maxItems: 3 })],
    ['LRUEvict', () => new LRUEvict({ maxItems: 3 })],
    ['LRUEvict per organization', () => new LRUEvict({ maxItems: 3, per: 'organization' })],
  ])('expired entries not reclaimed yet never take the place of a live entry under %s', (_name, rule) => {
    const cache = new Cache({ rules: [rule()] })
    const org = { scope: 'organization', orgId: 'o\u0000' } as const
    cache.setSync('live', 'L', org)
    for (let i = 0; i < 2; i++) cache.setSync(`short${i}`, i, { ...org, ttlSeconds: 0.05 })
    vi.advanceTimersByTime(60)
    cache.setSync('new1', 1, org)
    cache.setSync('new2', 2, org)
    expect(cache.getSync('live', org)).toBe('L')
    expect(cache.getSync('new1', org)).toBe(1)
    expect(cache.getSync('new2', org)).toBe(2)
    expect(cache.statsSync().evictionsByReason).toMatchObject({ expired: 2, lru: 0, maxItems: 0 })
    // The bound still holds once only live entries are left.
    cache.setSync('new3', 3, org)
    expect(cache.statsSync().totalKeys).toBe(3)
  })

  it('the storage belongs to one cache', () => {
    const storage = new InMemory()
    new Cache({ storage })
    expect(() => new Cache({ storage })).toThrow(ConfigurationError)
  })

  it('reports evicted refs to custom rules for bounds and expiry', () => {
    const events: RuleEvictEvent[] = []
    const spy: CacheRule = { name: 'spy', onEvict: (e) => void events.push(e) }
    const cache = new Cache({ rules: [new LRUEvict({ maxItems: 1, per: 'user' }), spy] })
    cache.setSync('a', 1, { scope: 'user', orgId: 'o', userId: 'u' })
    cache.setSync('b', 1, { scope: 'user', orgId: 'o', userId: 'u' })
    cache.setSync('t', 1, { ttlSeconds: 1 })
    vi.advanceTimersByTime(1000)
    expect(cache.getSync('t')).toBeUndefined()
    expect(events).toEqual([
      {
        ref: {
          scope: [
            { level: 'organization', id: 'o' },
            { level: 'user', id: 'u' },
          ],
          key: 'a',
        },
        reason: 'lru',
        count: 1,
      },
      { ref: { scope: [], key: 't' }, reason: 'expired', count: 1 },
    ])
  })

  it('three bounds of different orders and levels hold together after every write', () => {
    const cache = new Cache({
      rules: [
        new MaxItemsEvict({ maxItems: 50 }),
        new LRUEvict({ maxItems: 10, per: 'organization' }),
        new LRUEvict({ maxItems: 3, per: 'user' }),
      ],
    })
    const live = new Set<string>()
    let seed = 1
    const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n
    for (let i = 0; i < 3000; i++) {
      const orgId = `o${rand(8)}`
      const userId = `u${rand(5)}`
      const key = `k${rand(6)}`
      if (rand(4) === 0) cache.getSync(key, { scope: 'user', orgId, userId })
      else cache.setSync(key, i, { scope: 'user', orgId, userId })
      live.add(`${orgId}/${userId}`)
      const total = cache.statsSync().totalKeys
      expect(total).toBeLessThanOrEqual(50)
    }
    for (let o = 0; o < 8; o++) {
      let orgCount = 0
      for (let u = 0; u < 5; u++) {
        let userCount = 0
        for (let k = 0; k < 6; k++)
          if (cache.getSync(`k${k}`, { scope: 'user', orgId: `o${o}`, userId: `u${u}` }) !== undefined)
            userCount++
        expect(userCount).toBeLessThanOrEqual(3)
        orgCount += userCount
      }
      expect(orgCount).toBeLessThanOrEqual(10)
    }
  })
})

describe('ExpiryHeap', () => {
  it('pops in time order, honours the limit and skips stale items', () => {
    const heap = new ExpiryHeap<string>()
    const times = [50, 10, 40, 30, 20, 60, 5]
    for (const t of times) heap.push(t, `i${t}`)
    const out: string[] = []
    heap.popExpired(
      45,
      3,
      () => true,
      (item) => out.push(item),
    )
    expect(out).toEqual(['i5', 'i10', 'i20'])
    heap.popExpired(
      45,
      10,
      (item) => item !== 'i30',
      (item) => out.push(item),
    )
    expect(out).toEqual(['i5', 'i10', 'i20', 'i40'])
    heap.compact((item) => item !== 'i60')
    expect(heap.length).toBe(1)
    heap.popExpired(
      100,
      10,
      () => true,
      (item) => out.push(item),
    )
    expect(out.at(-1)).toBe('i50')
    expect(heap.length).toBe(0)
  })

  it('MISS is a unique marker', () => {
    expect(typeof MISS).toBe('symbol')
  })
})
