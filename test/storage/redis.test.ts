import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import type { CacheRule, RuleEvictEvent } from '../../src/index.js'
import {
  Cache,
  LifeTimeEvict,
  LRUEvict,
  MaxItemsEvict,
  SerializationError,
  StorageError,
} from '../../src/index.js'
import { JsonSerializer, RedisStorage } from '../../src/redis.js'
import { redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'
import { describeStorageConformance, scopes } from './conformance.js'

describe.skipIf(redisUrl === undefined)('RedisStorage on a standalone redis-server', () => {
  describeStorageConformance('redis (standalone)', {
    create: () => new RedisStorage({ url: redisUrl!, prefix: uniqueName('conf') }),
    propertyRuns: 25,
  })
})

describe.skipIf(redisClusterNodes === undefined)('RedisStorage on a 3-master Redis Cluster', () => {
  describeStorageConformance('redis (cluster)', {
    create: () => new RedisStorage({ cluster: redisClusterNodes!, prefix: uniqueName('conf') }),
    propertyRuns: 25,
  })
})

describe.skipIf(redisUrl === undefined)('RedisStorage specifics', () => {
  const raw = redisUrl === undefined ? undefined : new Redis(redisUrl)
  afterAll(async () => {
    await raw?.quit()
  })

  /**
   * Keys of a prefix, but the tags' eviction generations (`P:{T}:f`, left by an eviction with a
   * retention TTL, see redis/fence.ts) and the registry's bookkeeping (`P:{P:tags}:...`, see
   * redis/registry.ts: registration ids, gone with the last tag, and the cache-wide generation, which
   * expires on its own).
   */
  const keysOf = async (prefix: string) =>
    (await raw!.keys(`${prefix}:*`))
      .filter((k) => !k.endsWith('}:f') && !k.startsWith(`${prefix}:{${prefix}:tags}:`))
      .sort()

  it('refuses an unserializable value with a SerializationError and writes nothing', async () => {
    const prefix = uniqueName('bad')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await expect(cache.set('f', { fn: () => 1 })).rejects.toBeInstanceOf(SerializationError)
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      await expect(cache.set('c', cyclic)).rejects.toBeInstanceOf(SerializationError)
      expect(await keysOf(prefix)).toEqual([])
      expect((await cache.stats()).totalKeys).toBe(0)
    } finally {
      await cache.close()
    }
  })

  it('used directly, rejects (never throws) for keys or values it cannot store', async () => {
    const prefix = uniqueName('direct')
    const storage = new RedisStorage({ url: redisUrl!, prefix })
    try {
      const lone = { scope: [], key: 'a\ud800' }
      let reading: Promise<unknown> | undefined
      let writing: Promise<unknown> | undefined
      expect(() => (reading = storage.get(lone))).not.toThrow()
      expect(() => (writing = storage.set({ scope: [], key: 'f' }, () => 1, undefined))).not.toThrow()
      await expect(reading).rejects.toThrow('well-formed Unicode')
      await expect(writing).rejects.toBeInstanceOf(SerializationError)
      expect(await keysOf(prefix)).toEqual([])
    } finally {
      await storage.close()
    }
  })

  it('refuses a value larger than maxValueBytes before writing', async () => {
    const prefix = uniqueName('big')
    const cache = new Cache({
      scopes,
      storage: new RedisStorage({ url: redisUrl!, prefix, maxValueBytes: 100 }),
    })
    try {
      await expect(cache.set('big', 'x'.repeat(200))).rejects.toThrow(/maxValueBytes/)
      await cache.set('small', 'x'.repeat(10))
      expect(await keysOf(prefix)).toEqual([
        `${prefix}:tags`,
        `${prefix}:{@}:d:|small`,
        `${prefix}:{@}:i:`,
        `${prefix}:{@}:r`,
      ])
      expect(await cache.get('big')).toBeUndefined()
    } finally {
      await cache.close()
    }
  })

  it('uses the JSON serializer when asked (readable values)', async () => {
    const prefix = uniqueName('json')
    const cache = new Cache({
      scopes,
      storage: new RedisStorage({ url: redisUrl!, prefix, serializer: new JsonSerializer() }),
    })
    try {
      await cache.set('k', { when: new Date(0), n: 1n })
      expect(await cache.get('k')).toEqual({ when: new Date(0), n: 1n })
      const [dataKey] = (await keysOf(prefix)).filter((k) => k.includes(':d:'))
      expect(await raw!.get(dataKey!)).toContain('"$t":"Date"')
    } finally {
      await cache.close()
    }
  })

  it('keeps every key of a tenant in one hash slot and nothing outside the prefix', async () => {
    const prefix = uniqueName('layout')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await cache.set('a', 1, {
        scope: 'session',
        orgId: 'o{1}',
        userId: 'u',
        sessionId: 's',
        ttlSeconds: 60,
      })
      await cache.set('b', 1, { scope: 'user', orgId: 'o{1}', userId: 'u' })
      const keys = (await keysOf(prefix)).filter((k) => k !== `${prefix}:tags`)
      const tags = new Set(keys.map((k) => k.slice(k.indexOf('{'), k.indexOf('}') + 1)))
      expect(tags).toEqual(new Set(['{organization=o%7B1%7D/}']))
      if (redisClusterNodes !== undefined) {
        // Any cluster node computes key slots.
        const node = new Redis(redisClusterNodes[0]!)
        const slots = await Promise.all(keys.map((k) => node.call('CLUSTER', 'KEYSLOT', k)))
        await node.quit()
        expect(new Set(slots).size).toBe(1)
      }
      expect(await cache.evictByScope('organization', { orgId: 'o{1}' })).toBe(2)
      expect(await keysOf(prefix)).toEqual([])
    } finally {
      await cache.close()
    }
  })

  it('evictByScope and clear() do not scan the keyspace', async () => {
    const prefix = uniqueName('noscan')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    // Connected first, so the scripts it loads on connecting are not interleaved with MONITOR's reply.
    await cache.stats()
    const monitor = await raw!.monitor()
    const commands: string[] = []
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.includes(prefix))) commands.push(String(args[0]).toLowerCase())
    })
    try {
      await cache.set('a', 1, { scope: 'user', orgId: 'o', userId: 'u' })
      await cache.set('g', 1)
      expect(await cache.evictByScope('user', { orgId: 'o', userId: 'u' })).toBe(1)
      expect(await cache.clear()).toBe(1)
      await new Promise((r) => setTimeout(r, 50))
      expect(commands.filter((c) => ['scan', 'keys', 'flushdb', 'flushall'].includes(c))).toEqual([])
      expect(commands).toContain('evalsha')
    } finally {
      monitor.disconnect()
      await cache.close()
    }
  })

  it('trims index entries of expired values on later writes', async () => {
    const prefix = uniqueName('trim')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      const u = { scope: 'user', orgId: 'o', userId: 'u' } as const
      for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i, { ...u, ttlSeconds: 0.05 })
      await new Promise((r) => setTimeout(r, 120))
      await cache.set('later', 1, u)
      const index = `${prefix}:{organization=o/}:i:organization=o/user=u/`
      expect(await raw!.zcard(index)).toBe(1)
      expect((await cache.stats()).totalKeys).toBe(1)
      expect((await cache.stats()).evictionsByReason.expired).toBe(20)
    } finally {
      await cache.close()
    }
  })

  it('clear() racing with writers of another cache on the prefix loses no tenant from the registry', async () => {
    const prefix = uniqueName('race')
    const writer = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    const clearer = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      let next = 0
      const writers = Array.from({ length: 20 }, async () => {
        while (next < 600) {
          const i = next++
          await writer.set(`k${i}`, i, { scope: 'user', orgId: `o${i % 30}`, userId: `u${i % 7}` })
        }
      })
      const clears = (async () => {
        for (let i = 0; i < 8; i++) {
          await clearer.clear()
          await new Promise((r) => setTimeout(r, 3))
        }
      })()
      await Promise.all([...writers, clears])
      // Every surviving entry is reachable: size() and clear() see exactly the data keys that exist.
      const dataKeys = (await keysOf(prefix)).filter((k) => k.includes(':d:'))
      expect((await writer.stats()).totalKeys).toBe(dataKeys.length)
      expect(await writer.clear()).toBe(dataKeys.length)
      expect(await keysOf(prefix)).toEqual([])
    } finally {
      await writer.close()
      await clearer.close()
    }
  })

  it('evicts a scope larger than one script batch completely', async () => {
    const prefix = uniqueName('batch')
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      let next = 0
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 4500) {
            const i = next++
            await cache.set(`k${i}`, i, { scope: 'user', orgId: 'big', userId: `u${i % 3}` })
          }
        }),
      )
      await cache.set('other', 1, { scope: 'organization', orgId: 'small' })
      expect(await cache.evictByScope('organization', { orgId: 'big' })).toBe(4500)
      expect((await cache.stats()).totalKeys).toBe(1)
      expect((await keysOf(prefix)).filter((k) => k.includes('{organization=big/}'))).toEqual([])
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('leaves a client it did not create open', async () => {
    const client = new Redis(redisUrl!)
    const cache = new Cache({ scopes, storage: new RedisStorage({ client, prefix: uniqueName('given') }) })
    await cache.set('k', 1)
    expect(await cache.get('k')).toBe(1)
    await cache.clear()
    await cache.close()
    expect(await client.ping()).toBe('PONG')
    await client.quit()
  })

  it('names the server in connection errors, never the password', async () => {
    const storage = new RedisStorage({ url: 'redis://user:s3cret-pw@127.0.0.1:1/0', commandTimeoutMs: 200 })
    const cache = new Cache({ scopes, storage })
    try {
      const error = await cache.get('k').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(StorageError)
      const text = `${(error as Error).message} ${String((error as Error).cause)}`
      expect(text).toContain('127.0.0.1:1')
      expect(text).not.toContain('s3cret-pw')
      expect(() => new RedisStorage({ url: 'http://user:s3cret-pw@host' })).toThrow(/redis:\/\//)
      expect(() => new RedisStorage({ url: 'http://user:s3cret-pw@host' })).not.toThrow(/s3cret/)
    } finally {
      await cache.close()
    }
  })

  it('refuses bad options', () => {
    expect(() => new RedisStorage({ url: redisUrl!, prefix: 'a{b}' })).toThrow(/prefix/)
    expect(() => new RedisStorage({})).toThrow(/exactly one/)
    expect(() => new RedisStorage({ url: redisUrl!, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/)
    expect(() => new RedisStorage({ url: redisUrl!, maxValueBytes: -1 })).toThrow(/maxValueBytes/)
  })
})

const targets = [
  ...(redisUrl === undefined
    ? []
    : [{ name: 'standalone', make: (prefix: string) => new RedisStorage({ url: redisUrl!, prefix }) }]),
  ...(redisClusterNodes === undefined
    ? []
    : [
        {
          name: 'cluster',
          make: (prefix: string) => new RedisStorage({ cluster: redisClusterNodes!, prefix }),
        },
      ]),
]

describe.skipIf(targets.length === 0).each(targets)('RedisStorage rules and reports ($name)', ({ make }) => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('reports evicted refs to a listening rule, decoded exactly', async () => {
    const events: RuleEvictEvent[] = []
    const listener: CacheRule = { name: 'listener', onEvict: (event) => void events.push(event) }
    const cache = new Cache({
      scopes,
      storage: make(uniqueName('refs')),
      rules: [new MaxItemsEvict({ maxItems: 1, per: 'user' }), new LRUEvict({ maxItems: 2 }), listener],
    })
    try {
      const nasty = { scope: 'user', orgId: 'o:{1}|%', userId: 'u=/2' } as const
      await cache.set('first|key', 1, nasty)
      await cache.set('second', 2, nasty) // evicts first|key (maxItems per user)
      await cache.set('g1', 1)
      await cache.set('g2', 2) // evicts the oldest of second, g1 (LRU over everything)
      const bounded = events.filter((e) => e.reason === 'maxItems' || e.reason === 'lru')
      expect(bounded.map((e) => [e.reason, e.ref])).toEqual([
        [
          'maxItems',
          {
            scope: [
              { level: 'organization', id: 'o:{1}|%' },
              { level: 'user', id: 'u=/2' },
            ],
            key: 'first|key',
          },
        ],
        [
          'lru',
          {
            scope: [
              { level: 'organization', id: 'o:{1}|%' },
              { level: 'user', id: 'u=/2' },
            ],
            key: 'second',
          },
        ],
      ])
      expect((await cache.stats()).totalKeys).toBe(2)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('the sweeper reclaims expired entries nobody reads, and expired entries free their places', async () => {
    const cache = new Cache({
      scopes,
      storage: make(uniqueName('sweep')),
      rules: [new LifeTimeEvict({ sweepIntervalSeconds: 0.05 }), new LRUEvict({ maxItems: 3 })],
    })
    try {
      for (const k of ['a', 'b', 'c'])
        await cache.set(k, k, { scope: 'user', orgId: k, userId: 'u', ttlSeconds: 0.05 })
      await sleep(250)
      const stats = await cache.stats()
      expect(stats.evictionsByReason.expired).toBe(3)
      expect(stats.totalKeys).toBe(0)
      for (const k of ['x', 'y', 'z']) await cache.set(k, k)
      expect((await cache.stats()).evictionsByReason.lru).toBe(0)
      expect(await cache.evict('x')).toBe(true)
      await cache.set('short', 1, { ttlSeconds: 0.02 })
      await sleep(40)
      expect(await cache.evict('short')).toBe(false)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('an overwrite keeps its insertion place and a rewrite after expiry counts as new', async () => {
    const cache = new Cache({
      scopes,
      storage: make(uniqueName('order')),
      rules: [new MaxItemsEvict({ maxItems: 2 })],
    })
    try {
      await cache.set('a', 1, { ttlSeconds: 0.03 })
      await cache.set('b', 1)
      await sleep(60)
      await cache.set('a', 2) // a expired: this is a new insertion, after b
      await cache.set('c', 1) // evicts b, the oldest live insertion
      expect(await cache.get('b')).toBeUndefined()
      expect(await cache.get('a')).toBe(2)
      expect(await cache.get('c')).toBe(1)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
