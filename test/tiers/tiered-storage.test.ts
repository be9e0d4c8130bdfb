/**
 * The two tiers inside one process, over real servers: the storage conformance suite through a
 * TieredStorage (standalone Redis, Redis Cluster, FerretDB), then coherence between two caches sharing
 * a prefix (each with its own L1 and bus connection, as two processes would have), the race guard, and
 * the configuration errors. Cross-process tests are in processes.test.ts.
 */
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import type { BusMessageInfo, BusResetInfo, EntryRef, StorageProvider } from '../../src/index.js'
import { Cache, ConfigurationError, InMemory, LRUEvict, MISS } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisBus, RedisStorage } from '../../src/redis.js'
import { TieredStorage } from '../../src/tiers/tiered-storage.js'
import type { TierListener } from '../../src/tiers/tiered-storage.js'
import { describeStorageConformance, scopes } from '../storage/conformance.js'
import { silent } from './fixtures/silent.js'
import { mongoUrl, redisClusterNodes, redisUrl, sleep, uniqueName } from '../support/services.js'

const quiet: TierListener = {
  busMessage: () => undefined,
  busReset: () => undefined,
  circuitOpen: () => undefined,
  circuitClose: () => undefined,
  error: () => undefined,
}

describe.skipIf(redisUrl === undefined)('two tiers over a standalone Redis', () => {
  describeStorageConformance('tiered (memory + redis standalone + bus)', {
    create: () =>
      new TieredStorage(new RedisStorage({ url: redisUrl!, prefix: uniqueName('tconf') }), {}, quiet),
    propertyRuns: 25,
  })
})

describe.skipIf(redisClusterNodes === undefined)('two tiers over a Redis Cluster', () => {
  describeStorageConformance('tiered (memory + redis cluster + bus)', {
    create: () =>
      new TieredStorage(
        new RedisStorage({ cluster: redisClusterNodes!, prefix: uniqueName('tconf') }),
        {},
        quiet,
      ),
    propertyRuns: 10,
  })
})

describe.skipIf(mongoUrl === undefined)('two tiers over FerretDB (no bus)', () => {
  describeStorageConformance('tiered (memory + mongodb, local TTL only)', {
    create: () =>
      new TieredStorage(
        new MongoDBStorage({ url: mongoUrl!, dbName: 'cacheado_test', collectionName: uniqueName('tconf') }),
        { bus: false },
        quiet,
      ),
    propertyRuns: 5,
  })
})

/** Waits until `check` holds, up to `ms`; returns how long it took. */
async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`)
    await sleep(5)
  }
  return Date.now() - start
}

const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const
const u2 = { scope: 'user', orgId: 'o1', userId: 'u2' } as const
const o2 = { scope: 'user', orgId: 'o2', userId: 'u1' } as const

describe.skipIf(redisUrl === undefined)('coherence between two caches on one prefix', () => {
  const open: Cache<typeof scopes, StorageProvider>[] = []
  const raw = redisUrl === undefined ? undefined : new Redis(redisUrl)
  afterEach(async () => {
    for (const cache of open.splice(0)) {
      await cache.clear().catch(() => undefined)
      await cache.close()
    }
  })

  /** A tiered cache, its bus subscribed (its first `busReset` seen). */
  async function tiered(prefix: string, local = {}) {
    const cache = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local })
    open.push(cache)
    const resets: BusResetInfo[] = []
    const messages: BusMessageInfo[] = []
    cache.on('busReset', (info) => resets.push(info))
    cache.on('busMessage', (info) => messages.push(info))
    if (local !== undefined && (local as { bus?: unknown }).bus !== false) {
      await until(async () => resets.length !== 0, 5000)
    }
    return { cache, resets, messages }
  }

  /** A cache on the same prefix without a local tier: writes behind the tiers' backs (no bus). */
  function plain(prefix: string) {
    const cache = new Cache({ scopes, storage: silent(new RedisStorage({ url: redisUrl!, prefix })) })
    open.push(cache)
    return cache
  }

  it('serves hits from L1, and a write elsewhere reaches the other L1 through the bus', async () => {
    const prefix = uniqueName('coh')
    const a = await tiered(prefix)
    const b = await tiered(prefix)
    const behind = plain(prefix)
    await a.cache.set('k', 'v1', u1)
    await until(async () => b.messages.length === 1, 1000) // a's message about its write arrived
    expect(await b.cache.get('k', u1)).toBe('v1') // fills b's L1
    await behind.set('k', 'written without a bus', u1)
    expect(await b.cache.get('k', u1)).toBe('v1') // still b's copy: the hit came from L1
    await a.cache.set('k', 'v2', u1)
    await until(async () => (await b.cache.get('k', u1)) === 'v2', 1000)
    expect(b.messages.some((m) => m.invalidation.kind === 'entries' && m.dropped === 1)).toBe(true)
    expect(a.messages).toEqual([]) // a ignores its own messages
  })

  it('evict, evictByScope and clear in one cache drop the other cache’s copies', async () => {
    const prefix = uniqueName('coh')
    const a = await tiered(prefix)
    const b = await tiered(prefix)
    for (const opts of [u1, u2, o2]) await a.cache.set('k', `v ${opts.orgId}/${opts.userId}`, opts)
    await a.cache.set('g', 'global')
    await until(async () => b.messages.length === 4, 1000)
    for (const opts of [u1, u2, o2]) expect(await b.cache.get('k', opts)).toBeDefined()
    expect(await b.cache.get('g')).toBe('global')
    // Overwrite behind b's back, so that only a dropped L1 copy can make b see the change.
    const behind = plain(prefix)
    await behind.set('g', 'g2')
    for (const opts of [u1, u2, o2]) await behind.set('k', 'changed', opts)

    expect(await a.cache.evict('k', u2)).toBe(true)
    await until(async () => (await b.cache.get('k', u2)) === undefined, 1000)
    expect(await b.cache.get('k', u1)).toBe('v o1/u1') // untouched copy still served from L1

    expect(await a.cache.evictByScope('organization', { orgId: 'o1' })).toBe(1)
    await until(async () => (await b.cache.get('k', u1)) === undefined, 1000)
    expect(await b.cache.get('k', o2)).toBe('v o2/u1') // the other organization's copy is kept

    await a.cache.clear()
    await until(async () => (await b.cache.get('k', o2)) === undefined, 1000)
    expect(await b.cache.get('g')).toBeUndefined()
    const kinds = b.messages
      .slice(4)
      .map((m) => (m.invalidation.kind === 'scope' ? m.invalidation.path.length : 'e'))
    expect(kinds).toEqual(['e', 1, 0])
  })

  it('a shared LRU bound evicts in every L1, and L1 hits still count as uses', async () => {
    const prefix = uniqueName('lru')
    const rules = [new LRUEvict({ maxItems: 2 })]
    const a = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), rules, local: {} })
    const b = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), rules, local: {} })
    open.push(a, b)
    let subscribed = 0
    let received = 0
    for (const cache of [a, b]) cache.on('busReset', () => subscribed++)
    b.on('busMessage', () => received++)
    await until(async () => subscribed >= 2, 5000)
    await a.set('x', 1)
    await a.set('y', 2)
    await until(async () => received === 2, 1000) // a's messages about its writes arrived at b
    expect(await b.get('x')).toBe(1)
    expect(await b.get('y')).toBe(2)
    expect(await a.get('x')).toBe(1) // an L1 hit in a: its touch makes y the least recently used
    await sleep(50)
    await a.set('z', 3) // evicts y in Redis, in a's L1 and, through the bus, in b's
    expect(await a.get('y')).toBeUndefined()
    await until(async () => (await b.get('y')) === undefined, 1000)
    expect(await b.get('x')).toBe(1)
    expect((await a.stats()).evictionsByReason.lru).toBe(1)
  })

  it('a local TTL caps how long a copy lives when no bus is used', async () => {
    const prefix = uniqueName('nobus')
    const a = await tiered(prefix, { bus: false, ttlSeconds: 1 })
    const behind = plain(prefix)
    await a.cache.set('k', 'v1')
    await behind.set('k', 'v2')
    expect(await a.cache.get('k')).toBe('v1')
    await sleep(1050)
    expect(await a.cache.get('k')).toBe('v2')
  })

  it('a copy never outlives the entry’s TTL, also when it was filled by a read', async () => {
    const prefix = uniqueName('ttl')
    const a = await tiered(prefix)
    const b = await tiered(prefix)
    const written = Date.now()
    await a.cache.set('k', 'v', { ttlSeconds: 1 })
    await until(async () => b.messages.length === 1, 1000)
    expect(await b.cache.get('k')).toBe('v') // a copy in b's L1, filled by a read, local TTL 60 s
    await sleep(written + 1050 - Date.now())
    expect(await b.cache.get('k')).toBeUndefined()
    expect(await a.cache.get('k')).toBeUndefined()
  })

  it('maxItems bounds the L1; L1 drops are not evictions of the cache', async () => {
    const prefix = uniqueName('cap')
    const a = await tiered(prefix, { maxItems: 2 })
    const behind = plain(prefix)
    for (const k of ['a', 'b', 'c']) await a.cache.set(k, k)
    for (const k of ['a', 'b', 'c']) await behind.set(k, `${k}2`)
    // 'a' left the L1 (least recently used), so it is read from Redis; 'b' and 'c' are local copies.
    expect(await a.cache.get('a')).toBe('a2')
    expect(await a.cache.get('c')).toBe('c')
    expect((await a.cache.stats()).evictions).toBe(0)
    expect((await a.cache.stats()).totalKeys).toBe(3)
  })

  it('a bus reset (reconnection) empties the L1', async () => {
    const prefix = uniqueName('reset')
    const a = await tiered(prefix)
    const behind = plain(prefix)
    await a.cache.set('k', 'v1')
    await behind.set('k', 'v2')
    expect(await a.cache.get('k')).toBe('v1')
    // Kill the bus's subscriber connection on the server: ioredis reconnects and the bus resubscribes.
    const clients = await raw!.client('LIST')
    const subscriber = String(clients)
      .split('\n')
      .find((line) => / sub=[1-9]/.test(line) && line.includes('cmd=subscribe'))
    expect(subscriber).toBeDefined()
    const resetsBefore = a.resets.length
    await raw!.client('KILL', 'ID', /id=(\d+)/.exec(subscriber!)![1]!)
    await until(async () => a.resets.length > resetsBefore, 5000)
    expect(a.resets.at(-1)!.dropped).toBe(1)
    expect(await a.cache.get('k')).toBe('v2')
  })

  it('standalone: a message goes to every other registered inbox, never back to its sender', async () => {
    const prefix = uniqueName('inbox')
    const a = await tiered(prefix)
    const b = await tiered(prefix)
    const members = await raw!.zrange(`${prefix}:bus:members`, 0, -1)
    expect(members).toHaveLength(2)
    const observer = new Redis(redisUrl!)
    const seen: string[] = []
    observer.on('pmessage', (_pattern: string, channel: string) => seen.push(channel))
    try {
      await observer.psubscribe(`${prefix}:bus*`)
      await a.cache.set('k', 1) // published by the write script
      await a.cache.evictByScope('organization', { orgId: 'o1' }) // published by the broadcast script
      await until(async () => seen.length === 2, 1000)
      await sleep(50)
      const inboxes = new Set(seen)
      expect(inboxes.size).toBe(1)
      const [inbox] = [...inboxes]
      expect(members.map((m) => `${prefix}:bus:${m}`)).toContain(inbox)
      expect(b.messages.map((m) => m.invalidation.kind)).toEqual(['entries', 'scope'])
      expect(a.messages).toEqual([])
    } finally {
      observer.disconnect()
    }
  })

  it('a receiver whose registration may have lapsed (a stalled process) empties its L1', async () => {
    const prefix = uniqueName('lease')
    const client = new Redis(redisUrl!)
    const bus = new RedisBus({ client, channel: `${prefix}:bus`, leaseMs: 600 })
    const resets: string[] = []
    bus.subscribe({
      onMessage: () => undefined,
      onReset: (reason) => resets.push(reason),
      onError: () => undefined,
      origin: 'me',
    })
    try {
      await until(async () => resets.length === 1, 5000)
      await sleep(400) // renewals every 200 ms: no lapse
      expect(resets).toEqual(['subscribed'])
      const end = Date.now() + 700
      while (Date.now() < end) {
        // A stall longer than the lease: other processes stop sending to this inbox meanwhile.
      }
      // At least one (a renewal that was in flight during the stall may report it too).
      await until(async () => resets.length >= 2, 2000)
      expect(resets[1]).toBe('registration lapsed')
    } finally {
      await bus.close()
      client.disconnect()
    }
  })

  it('ignores messages from other prefixes and reports undecodable ones as a reset', async () => {
    const prefix = uniqueName('chan')
    const a = await tiered(prefix)
    const other = await tiered(uniqueName('chan'))
    await a.cache.set('k', 'v')
    await other.cache.set('k', 'w')
    await other.cache.clear()
    await sleep(50)
    expect(a.messages).toEqual([])
    const resets = a.resets.length
    await raw!.publish(`${prefix}:bus`, 'not json')
    await until(async () => a.resets.length > resets, 1000)
    expect(a.resets.at(-1)!.reason).toMatch(/undecodable/)
  })
})

describe.skipIf(redisClusterNodes === undefined)('coherence on a Redis Cluster', () => {
  it('writes and scope evictions reach the other cache through cluster pub/sub', async () => {
    const prefix = uniqueName('ccoh')
    const make = () =>
      new Cache({ scopes, storage: new RedisStorage({ cluster: redisClusterNodes!, prefix }), local: {} })
    const [a, b] = [make(), make()]
    const behind = new Cache({
      scopes,
      storage: silent(new RedisStorage({ cluster: redisClusterNodes!, prefix })),
    })
    try {
      let subscribed = 0
      for (const cache of [a, b]) cache.on('busReset', () => subscribed++)
      await until(async () => subscribed >= 2, 10_000)
      let received = 0
      b.on('busMessage', () => received++)
      for (const opts of [u1, o2]) await a.set('k', 'v1', opts) // two tenants: two hash slots
      await until(async () => received === 2, 1000)
      for (const opts of [u1, o2]) expect(await b.get('k', opts)).toBe('v1')
      for (const opts of [u1, o2]) await behind.set('k', 'behind', opts)
      expect(await b.get('k', u1)).toBe('v1') // b's L1 copy
      await a.set('k', 'v2', u1)
      await until(async () => (await b.get('k', u1)) === 'v2', 1000)
      await a.evictByScope('organization', { orgId: 'o2' })
      await until(async () => (await b.get('k', o2)) === undefined, 1000)
    } finally {
      await a.clear()
      for (const cache of [a, b, behind]) await cache.close()
    }
  })
})

describe.skipIf(mongoUrl === undefined || redisUrl === undefined)('MongoDB with a RedisBus', () => {
  it('a write and a scope eviction through one cache drop the other cache’s copies', async () => {
    const collectionName = uniqueName('tmongo')
    const channel = uniqueName('bus')
    const clients = [new Redis(redisUrl!), new Redis(redisUrl!)]
    const make = (client: Redis) =>
      new Cache({
        scopes,
        storage: new MongoDBStorage({ url: mongoUrl!, dbName: 'cacheado_test', collectionName }),
        local: { bus: new RedisBus({ client, channel }) },
      })
    const [a, b] = clients.map(make) as [ReturnType<typeof make>, ReturnType<typeof make>]
    const behind = new Cache({
      scopes,
      storage: new MongoDBStorage({ url: mongoUrl!, dbName: 'cacheado_test', collectionName }),
    })
    try {
      let subscribed = 0
      for (const cache of [a, b]) cache.on('busReset', () => subscribed++)
      await until(async () => subscribed >= 2, 5000)
      let received = 0
      b.on('busMessage', () => received++)
      await a.set('k', 'v1', u1)
      await until(async () => received === 1, 1000)
      expect(await b.get('k', u1)).toBe('v1')
      await behind.set('k', 'behind', u1)
      expect(await b.get('k', u1)).toBe('v1') // b's L1 copy
      await a.set('k', 'v2', u1)
      await until(async () => (await b.get('k', u1)) === 'v2', 1000)
      await a.evictByScope('organization', { orgId: 'o1' })
      await until(async () => (await b.get('k', u1)) === undefined, 1000)
    } finally {
      await a.clear()
      for (const cache of [a, b, behind]) await cache.close()
      for (const client of clients) client.disconnect()
    }
  })
})

/** A storage that forwards to `redis`, with some methods replaced (to hold an answer back). */
function delegate(redis: RedisStorage, overrides: Partial<StorageProvider>): StorageProvider {
  return {
    storageType: redis.storageType,
    supportsBounds: true,
    attach: (context) => redis.attach(context),
    get: (ref) => redis.get(ref),
    getWithExpiry: (ref) => redis.getWithExpiry(ref),
    set: (ref, value, ttlMs) => redis.set(ref, value, ttlMs),
    delete: (ref) => redis.delete(ref),
    evictScope: (path) => redis.evictScope(path),
    size: () => redis.size(),
    close: () => redis.close(),
    ...overrides,
  }
}

describe.skipIf(redisUrl === undefined)('the race guard', () => {
  it('a read that was under way when its entry was invalidated does not fill the L1', async () => {
    const prefix = uniqueName('race')
    const redis = new RedisStorage({ url: redisUrl!, prefix })
    // Holds the answer of the next getWithExpiry until released: the invalidation lands in between,
    // as it can when the bus message overtakes the reply on the command connection.
    let hold: Promise<void> | undefined
    const slow = delegate(redis, {
      async getWithExpiry(ref: EntryRef) {
        const answer = await redis.getWithExpiry(ref)
        if (hold !== undefined) await hold
        return answer
      },
    })
    const tier = new TieredStorage(slow, { bus: false }, quiet)
    tier.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const ref: EntryRef = { scope: [{ level: 'organization', id: 'o1' }], key: 'k' }
    try {
      await redis.set(ref, 'old', undefined)
      let release!: () => void
      hold = new Promise((resolve) => (release = resolve))
      const reading = tier.get(ref)
      await sleep(20)
      await tier.evictScope([{ level: 'organization', id: 'o1' }]) // Redis now has nothing
      release()
      expect(await reading).toBe('old') // what Redis answered when the read ran
      hold = undefined
      expect(tier.localSize).toBe(0) // but it was not kept
      expect(await tier.get(ref)).toBe(MISS)
    } finally {
      await tier.close()
    }
  })

  it('a write whose entry was overwritten meanwhile by another writer does not fill the L1', async () => {
    const prefix = uniqueName('race')
    const redis = new RedisStorage({ url: redisUrl!, prefix })
    let hold: Promise<void> | undefined
    const slow = delegate(redis, {
      async set(ref: EntryRef, value: unknown, ttlMs: number | undefined) {
        await redis.set(ref, value, ttlMs)
        if (hold !== undefined) await hold
      },
    })
    const tier = new TieredStorage(slow, { bus: false }, quiet)
    tier.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const ref: EntryRef = { scope: [], key: 'k' }
    try {
      let release!: () => void
      hold = new Promise((resolve) => (release = resolve))
      const first = tier.set(ref, 'first', undefined)
      await sleep(20)
      hold = undefined
      await tier.set(ref, 'second', undefined)
      release()
      await first
      expect(await tier.get(ref)).toBe('second')
    } finally {
      await tier.close()
    }
  })
})

describe.skipIf(redisUrl === undefined)('background touches of the shared LRU order', () => {
  it('are sent for L1 hits, 64 at most at a time', async () => {
    const redis = new RedisStorage({ url: redisUrl!, prefix: uniqueName('touch') })
    let touches = 0
    const counted = delegate(redis, {
      get: (ref) => {
        touches++
        return redis.get(ref)
      },
    })
    const tier = new TieredStorage(counted, { bus: false }, quiet)
    tier.attach({
      bounds: [{ order: 'lru', maxItems: 100, reason: 'lru' }],
      onEvicted: () => undefined,
      wantsEvictedRefs: false,
    })
    const ref: EntryRef = { scope: [], key: 'hot' }
    try {
      await tier.set(ref, 'v', undefined)
      const hits = await Promise.all(Array.from({ length: 1000 }, () => tier.get(ref)))
      expect(hits.every((v) => v === 'v')).toBe(true)
      expect(touches).toBe(64)
      await until(async () => {
        await tier.get(ref)
        return touches > 64 // the slots free up again as the touches are answered
      }, 1000)
      await tier.evictScope([])
    } finally {
      await tier.close()
    }
  })
})

describe('two tiers: configuration errors', () => {
  const storage = () => new RedisStorage({ url: 'redis://127.0.0.1:1', prefix: uniqueName('cfg') })
  it.each([
    [{ maxItems: 0 }, /local.maxItems must be a positive integer/],
    [{ ttlSeconds: -1 }, /local.ttlSeconds must be a positive number/],
    [{ bus: {} }, /local.bus must implement Bus/],
    [{ circuitBreaker: { failureThreshold: 0 } }, /failureThreshold must be a positive integer/],
    [{ circuitBreaker: { openSeconds: 0 } }, /openSeconds must be a positive number/],
  ])('refuses %j', async (local, message) => {
    const shared = storage()
    try {
      expect(() => new Cache({ storage: shared, local: local as never })).toThrow(message)
    } finally {
      await shared.close()
    }
  })

  it('refuses a local tier over an in-memory storage', () => {
    expect(() => new Cache({ storage: new InMemory(), local: {} })).toThrow(ConfigurationError)
  })

  it('RedisBus checks its options', () => {
    expect(() => new RedisBus({ client: {} as never, channel: 'c' })).toThrow(ConfigurationError)
    const client = new Redis({ lazyConnect: true })
    expect(() => new RedisBus({ client, channel: 'c', timeoutMs: 0 })).toThrow(
      'RedisBus: timeoutMs must be a positive number, got 0',
    )
    client.disconnect()
  })
})
