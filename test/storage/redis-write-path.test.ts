import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { Cache, LRUEvict } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'
import { scopes } from './conformance.js'

/**
 * The write script's fast path: the tag's root index doubles as its expiry index, and the tag marker
 * holds a lower bound on the earliest expiry so that writes purge only when something may be due.
 */
describe.skipIf(redisUrl === undefined)('RedisStorage write path', () => {
  const raw = redisUrl === undefined ? undefined : new Redis(redisUrl)
  afterAll(async () => {
    await raw?.quit()
  })
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  const u = { scope: 'user', orgId: 'o', userId: 'u' } as const
  const base = (prefix: string) => `${prefix}:{organization=o/}:`
  const rootIndex = (prefix: string) => `${base(prefix)}i:organization=o/`

  /** The marker's expiry part (`<creation id>:<earliest expiry>`, see redis/lua.ts). */
  const markerBound = async (prefix: string) => (await raw!.get(`${base(prefix)}r`))?.split(':').pop()

  /** The marker's bound must not exceed the earliest finite score of the root index. */
  async function expectMarkerIsLowerBound(prefix: string): Promise<void> {
    const marker = await markerBound(prefix)
    const head = await raw!.zrange(rootIndex(prefix), 0, 0, 'WITHSCORES')
    if (head[1] === undefined || head[1] === 'inf') return
    expect(marker).not.toBe('none')
    expect(Number(marker)).toBeLessThanOrEqual(Number(head[1]))
  }

  it('keeps only data, index and marker keys for TTL writes (no separate expiry set)', async () => {
    const prefix = uniqueName('wkeys')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await cache.set('a', 1, { ...u, ttlSeconds: 60 })
      await cache.set('b', 2, u)
      expect((await raw!.keys(`${prefix}:*`)).sort()).toEqual(
        [
          `${base(prefix)}d:organization=o/user=u/|a`,
          `${base(prefix)}d:organization=o/user=u/|b`,
          `${base(prefix)}i:organization=o/`,
          `${base(prefix)}i:organization=o/user=u/`,
          `${base(prefix)}r`,
          `${prefix}:tags`,
          `${prefix}:{${prefix}:tags}:e`, // registration ids (redis/registry.ts)
        ].sort(),
      )
      await expectMarkerIsLowerBound(prefix)
      expect(await cache.clear()).toBe(2)
      // The traces left: the tag's eviction generations and the cache-wide one, which expire on their
      // own (redis/fence.ts).
      const left = (await raw!.keys(`${prefix}:*`)).sort()
      expect(left).toEqual([`${base(prefix)}f`, `${prefix}:{${prefix}:tags}:g`].sort())
      for (const key of left) expect(await raw!.pttl(key)).toBeGreaterThan(0)
    } finally {
      await cache.close()
    }
  })

  it('marks a tag without expiring entries as having nothing due', async () => {
    const prefix = uniqueName('wnone')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await cache.set('a', 1, u)
      expect(await markerBound(prefix)).toBe('none')
      await cache.set('b', 2, { ...u, ttlSeconds: 60 })
      await expectMarkerIsLowerBound(prefix)
      expect(await markerBound(prefix)).not.toBe('none')
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('purges expired entries even when the earliest expiry was since overwritten with a later one', async () => {
    const prefix = uniqueName('wover')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await cache.set('a', 1, { ...u, ttlSeconds: 0.05 })
      await cache.set('b', 2, { ...u, ttlSeconds: 0.05 })
      await cache.set('a', 3, { ...u, ttlSeconds: 60 })
      await expectMarkerIsLowerBound(prefix)
      await sleep(120)
      await cache.set('c', 4, u)
      expect(await raw!.zrange(rootIndex(prefix), 0, -1)).toEqual([
        'organization=o/user=u/|a',
        'organization=o/user=u/|c',
      ])
      await expectMarkerIsLowerBound(prefix)
      expect((await cache.stats()).evictionsByReason.expired).toBe(1)
      expect(await cache.get('a', u)).toBe(3)
      expect((await cache.stats()).totalKeys).toBe(2)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('repairs a marker of an older layout (value 1) on the next write', async () => {
    const prefix = uniqueName('wlegacy')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i, { ...u, ttlSeconds: 0.05 })
      await raw!.set(`${base(prefix)}r`, '1')
      await sleep(120)
      await cache.set('later', 1, { ...u, ttlSeconds: 60 })
      expect(await raw!.zcard(rootIndex(prefix))).toBe(1)
      expect((await cache.stats()).evictionsByReason.expired).toBe(5)
      await expectMarkerIsLowerBound(prefix)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('keeps the order of concurrent operations of one storage (the first goes at once, the rest pipelined)', async () => {
    const prefix = uniqueName('worder')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      for (let round = 0; round < 3; round++) {
        const reads: Promise<unknown>[] = []
        const writes: Promise<void>[] = []
        for (let i = 0; i < 200; i++) {
          writes.push(cache.set('k', i, u))
          reads.push(cache.get('k', u))
          if (i % 50 === 49) await Promise.resolve()
        }
        await Promise.all(writes)
        expect(await Promise.all(reads)).toEqual(Array.from({ length: 200 }, (_, i) => i))
        expect(await cache.get('k', u)).toBe(199)
      }
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('rewriting an expired entry without TTL leaves one index entry, with no expiry, in every set', async () => {
    const prefix = uniqueName('wstale')
    const cache = new Cache({
      scopes,
      rules: [new LRUEvict({ maxItems: 10 })],
      storage: new RedisStorage({ url: redisUrl!, prefix }),
    })
    try {
      await cache.set('k', 1, { ...u, ttlSeconds: 0.05 })
      expect(await raw!.zscore(`${prefix}:{@@}:x`, 'organization=o/user=u/|k')).not.toBeNull()
      await sleep(120)
      await cache.set('k', 2, u)
      expect(await raw!.zrange(rootIndex(prefix), 0, -1, 'WITHSCORES')).toEqual([
        'organization=o/user=u/|k',
        'inf',
      ])
      expect(await raw!.zscore(`${prefix}:{@@}:x`, 'organization=o/user=u/|k')).toBeNull()
      const [bound, ...more] = await raw!.keys(`${prefix}:{@@}:b*`)
      expect(more).toEqual([])
      expect(await raw!.zcard(bound!)).toBe(1)
      expect(await cache.get('k', u)).toBe(2)
      expect((await cache.stats()).totalKeys).toBe(1)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
