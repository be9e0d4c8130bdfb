import { describe, expect, it } from 'vitest'
import { Cache, ConfigurationError, InvalidArgumentError, LRUEvict } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'

const ZERO = { hits: 0, misses: 0, sets: 0, evictions: 0 }
const org = (id: string) => ({ level: 'organization', id })
const usr = (id: string) => ({ level: 'user', id })

describe('stats({ breakdown: true })', () => {
  it('counts per scope instance and per memoized namespace, top N plus other', () => {
    const cache = new Cache({ stats: { topN: 2, levels: ['organization', 'user', 'session'] } })
    expect(cache.tracksBreakdown).toBe(true)
    // acme: 3 users; the same user id under two organizations is two buckets
    for (const userId of ['ann', 'bob', 'ann']) {
      cache.setSync('k', 1, { scope: 'user', orgId: 'acme', userId })
      cache.getSync('k', { scope: 'user', orgId: 'acme', userId })
    }
    cache.getSync('absent', { scope: 'user', orgId: 'acme', userId: 'ann' })
    cache.getSync('k', { scope: 'organization', orgId: 'tiny' })
    cache.setSync('k', 1, { scope: 'user', orgId: 'glob/ex', userId: 'ann' })
    cache.setSync('global', 1)
    const find = cache.cache({ namespace: 'find', scope: 'organization' })((q: { orgId: string }) => q.orgId)
    find({ orgId: 'acme' })
    find({ orgId: 'acme' })
    cache.cache({ namespace: 'rare' })(() => 1)()
    cache.cache({ namespace: 'a:b' })(() => 1)()
    expect(cache.evictByScopeSync('user', { orgId: 'acme', userId: 'bob' })).toBe(1)

    const stats = cache.statsSync({ breakdown: true })
    expect(stats).toMatchObject({ hits: 4, misses: 5, sets: 8, evictions: 1, topN: 2 })
    // Space-saving: a newcomer replaces the least active bucket, whose counts move to `other`.
    expect(stats.byScope.organization).toEqual({
      top: [
        // 3 sets, 3 hits, 1 miss, the memoized miss, set and hit, and the scope eviction of one user
        { scope: [org('acme')], label: 'acme', hits: 4, misses: 2, sets: 4, evictions: 1 },
        { scope: [org('glob/ex')], label: 'glob%2Fex', ...ZERO, sets: 1 },
      ],
      other: { ...ZERO, misses: 1 }, // 'tiny', replaced by glob/ex
    })
    expect(stats.byScope.user).toEqual({
      top: [
        { scope: [org('acme'), usr('ann')], label: 'acme/ann', hits: 2, misses: 1, sets: 2, evictions: 0 },
        // bob was replaced by glob/ex's ann, then came back with the eviction of his scope
        { scope: [org('acme'), usr('bob')], label: 'acme/bob', ...ZERO, evictions: 1 },
      ],
      other: { ...ZERO, hits: 1, sets: 2 }, // bob's first set and hit, glob/ex's ann's set
    })
    expect(stats.byScope.session).toEqual({ top: [], other: ZERO })
    expect(stats.byNamespace).toEqual({
      top: [
        { namespace: 'a:b', label: 'a%3Ab', hits: 0, misses: 1, sets: 1, evictions: 0 },
        { namespace: 'find', label: 'find', hits: 1, misses: 1, sets: 1, evictions: 0 },
      ],
      other: { ...ZERO, misses: 1, sets: 1 }, // 'rare', replaced by a:b
    })
  })

  it('counts bound evictions and expiries toward the evicted entry', async () => {
    const cache = new Cache({
      stats: { levels: ['organization'], namespaces: false },
      rules: [new LRUEvict({ maxItems: 1 })],
    })
    await cache.set('a', 1, { scope: 'organization', orgId: 'o1' })
    await cache.set('b', 1, { scope: 'organization', orgId: 'o2' }) // evicts o1's entry
    await cache.set('c', 1, { scope: 'organization', orgId: 'o2', ttlSeconds: 0.01 }) // evicts o2's b
    await new Promise((r) => setTimeout(r, 30))
    await cache.get('c', { scope: 'organization', orgId: 'o2' }) // expired: an eviction and a miss
    const stats = await cache.stats({ breakdown: true })
    expect(Object.keys(stats.byScope)).toEqual(['organization'])
    expect(stats.byNamespace).toBeUndefined()
    expect(stats.byScope.organization!.top).toEqual([
      { scope: [org('o2')], label: 'o2', hits: 0, misses: 1, sets: 2, evictions: 2 },
      { scope: [org('o1')], label: 'o1', hits: 0, misses: 0, sets: 1, evictions: 1 },
    ])
  })

  it('keeps O(topN) buckets for 200 000 tenants, the busiest on top', () => {
    const cache = new Cache({ stats: { topN: 5, levels: ['organization'] } })
    for (let i = 0; i < 200_000; i++) {
      cache.getSync('k', { scope: 'organization', orgId: `t${i}` })
      if (i % 2 === 0) cache.getSync('k', { scope: 'organization', orgId: 'whale' })
    }
    const { byScope, misses } = cache.statsSync({ breakdown: true })
    const { top, other } = byScope.organization!
    expect(top).toHaveLength(5)
    expect(top[0]).toMatchObject({ label: 'whale', misses: 100_000 })
    expect(top.reduce((s, b) => s + b.misses, 0) + other.misses).toBe(misses)
  })

  it('counters() gives the same counts synchronously, with no storage call, also after close()', async () => {
    const cache = new Cache({ stats: { topN: 5 } })
    await cache.set('k', 1, { scope: 'organization', orgId: 'acme' })
    await cache.get('k', { scope: 'organization', orgId: 'acme' })
    const { totalKeys, ...rest } = await cache.stats({ breakdown: true })
    expect(totalKeys).toBe(1)
    expect(cache.counters({ breakdown: true })).toEqual(rest)
    expect(cache.counters()).not.toHaveProperty('byScope')
    await cache.close()
    expect(cache.counters()).toMatchObject({ hits: 1, sets: 1, storageType: 'in_memory' })
    expect(() => new Cache().counters({ breakdown: true })).toThrow(ConfigurationError)
  })

  it('breaks down the top level only by default: user and session ids never become labels unless asked', () => {
    const cache = new Cache({ stats: { topN: 5 } })
    cache.setSync('k', 1, { scope: 'session', orgId: 'acme', userId: 'ann', sessionId: 's\u0000\n1' })
    cache.getSync('k', { scope: 'session', orgId: 'acme', userId: 'ann', sessionId: 's\u0000\n1' })
    const { byScope } = cache.statsSync({ breakdown: true })
    expect(Object.keys(byScope)).toEqual(['organization'])
    expect(byScope.organization!.top.map((bucket) => [bucket.label, bucket.hits, bucket.sets])).toEqual([
      ['acme', 1, 1],
    ])
    const deeper = new Cache({ stats: { levels: ['organization', 'user'] } })
    deeper.setSync('k', 1, { scope: 'session', orgId: 'acme', userId: 'ann', sessionId: 's1' })
    expect(Object.keys(deeper.statsSync({ breakdown: true }).byScope)).toEqual(['organization', 'user'])
    const none = new Cache({ stats: { levels: [] } })
    none.setSync('k', 1, { scope: 'organization', orgId: 'acme' })
    expect(none.statsSync({ breakdown: true }).byScope).toEqual({})
  })

  it('is off unless configured; bad configuration is a clear error', async () => {
    const plain = new Cache()
    expect(plain.tracksBreakdown).toBe(false)
    expect(() => plain.statsSync({ breakdown: true })).toThrow(ConfigurationError)
    await expect(plain.stats({ breakdown: true })).rejects.toThrow(
      'cache.stats({ breakdown: true }) needs per-scope tracking; create the cache with new Cache({ stats: { topN: 100 } })',
    )
    expect(plain.statsSync({ breakdown: false })).not.toHaveProperty('byScope')
    expect(() => plain.statsSync('x' as never)).toThrow(InvalidArgumentError)
    expect(() => new Cache({ stats: { topN: 0 } })).toThrow(
      'stats.topN must be an integer from 1 to 100000, got 0',
    )
    expect(() => new Cache({ stats: { topN: 1.5 } })).toThrow(ConfigurationError)
    expect(() => new Cache({ stats: { levels: ['tenant' as never] } })).toThrow(
      'stats.levels: "tenant" is not a scope level of this cache (levels: organization, user, session)',
    )
    expect(() => new Cache({ stats: { levels: 'user' as never } })).toThrow(ConfigurationError)
    expect(() => new Cache({ stats: 5 as never })).toThrow(
      'the stats option must be an object such as { topN: 100 }',
    )
  })
})

describe.skipIf(redisUrl === undefined)('stats breakdown on a real Redis', () => {
  it('attributes per-user LRU evictions decided by the server to the right tenant', async () => {
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('breakdown') }),
      rules: [new LRUEvict({ maxItems: 1, per: 'user' })],
      stats: { topN: 10, levels: ['user'] },
    })
    try {
      for (const key of ['a', 'b', 'c']) await cache.set(key, 1, { scope: 'user', orgId: 'o', userId: 'u1' })
      await cache.set('a', 1, { scope: 'user', orgId: 'o', userId: 'u2' })
      await cache.get('c', { scope: 'user', orgId: 'o', userId: 'u1' })
      const stats = await cache.stats({ breakdown: true })
      expect(stats).toMatchObject({ hits: 1, sets: 4, evictions: 2, totalKeys: 2, storageType: 'redis' })
      expect(stats.byScope.user!.top).toEqual([
        { scope: [org('o'), usr('u1')], label: 'o/u1', hits: 1, misses: 0, sets: 3, evictions: 2 },
        { scope: [org('o'), usr('u2')], label: 'o/u2', hits: 0, misses: 0, sets: 1, evictions: 0 },
      ])
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
