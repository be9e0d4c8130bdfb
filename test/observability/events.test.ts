import { afterAll, describe, expect, it } from 'vitest'
import type { CacheEvents, EntryRef, StorageContext, StorageProvider } from '../../src/index.js'
import { Cache, LifeTimeEvict, LRUEvict, MaxItemsEvict, MISS, StorageError } from '../../src/index.js'
import type { CacheEventEmitter } from '../../src/events.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { mongoUrl, redisUrl, sleep, uniqueName } from '../support/services.js'

type Recorded = { [E in keyof CacheEvents]: [E, ...CacheEvents[E]] }[keyof CacheEvents]

/** Records every event of `names` emitted by `cache`, in order. */
function record(cache: CacheEventEmitter, names: readonly (keyof CacheEvents)[]): Recorded[] {
  const seen: Recorded[] = []
  for (const name of names) {
    cache.on(name, ((...args: unknown[]) => seen.push([name, ...args] as Recorded)) as never)
  }
  return seen
}

const ENTRY_EVENTS = ['hit', 'miss', 'set', 'evict', 'expire'] as const
const user = { scope: 'user', orgId: 'acme', userId: 'ann' } as const
const userPath = [
  { level: 'organization', id: 'acme' },
  { level: 'user', id: 'ann' },
]

describe('entry events on the in-memory storage', () => {
  it('identify the entry as the user wrote it: scope path, key (unescaped) or namespace', async () => {
    const cache = new Cache()
    const seen = record(cache, ENTRY_EVENTS)
    cache.setSync('settings', 1, { ...user, ttlSeconds: 60 })
    cache.getSync('settings', user)
    cache.getSync('#hash', user)
    cache.setSync('#hash', 2)
    const load = cache.cache({ namespace: 'repo:find%1', scope: 'organization' })(
      (q: { orgId: string }) => q.orgId,
    )
    load({ orgId: 'acme' })
    load({ orgId: 'acme' })
    expect(cache.evictSync('settings', user)).toBe(true)
    expect(cache.evictSync('settings', user)).toBe(false)
    expect(cache.evictByScopeSync('organization', { orgId: 'acme' })).toBe(1)
    expect(cache.evictByScopeSync('organization', { orgId: 'nobody' })).toBe(0)
    await cache.set('async', 3)
    await cache.get('async')
    expect(seen).toEqual([
      ['set', { scope: userPath, key: 'settings', namespace: undefined, ttlMs: 60_000 }],
      ['hit', { scope: userPath, key: 'settings', namespace: undefined }],
      ['miss', { scope: userPath, key: '#hash', namespace: undefined }],
      ['set', { scope: [], key: '#hash', namespace: undefined, ttlMs: undefined }],
      ['miss', { scope: [userPath[0]], key: undefined, namespace: 'repo:find%1' }],
      ['set', { scope: [userPath[0]], key: undefined, namespace: 'repo:find%1', ttlMs: undefined }],
      ['hit', { scope: [userPath[0]], key: undefined, namespace: 'repo:find%1' }],
      ['evict', { reason: 'explicit', count: 1, scope: userPath, key: 'settings', namespace: undefined }],
      ['evict', { reason: 'scope', count: 1, scope: [userPath[0]], key: undefined, namespace: undefined }],
      ['set', { scope: [], key: 'async', namespace: undefined, ttlMs: undefined }],
      ['hit', { scope: [], key: 'async', namespace: undefined }],
    ])
  })

  it('bound evictions name the entry even when the listener came after the cache was built', () => {
    const cache = new Cache({
      rules: [new LRUEvict({ maxItems: 2 }), new MaxItemsEvict({ maxItems: 1, per: 'user' })],
    })
    cache.setSync('a', 1)
    cache.setSync('b', 2)
    const seen = record(cache, ['evict'])
    cache.setSync('c', 3) // the LRU bound evicts 'a'
    cache.setSync('u1', 1, user)
    cache.setSync('u2', 2, user) // bounds apply in order: the LRU bound evicts 'c', the per-user one u1
    expect(seen).toEqual([
      ['evict', { reason: 'lru', count: 1, scope: [], key: 'a', namespace: undefined }],
      ['evict', { reason: 'lru', count: 1, scope: [], key: 'b', namespace: undefined }],
      ['evict', { reason: 'lru', count: 1, scope: [], key: 'c', namespace: undefined }],
      ['evict', { reason: 'maxItems', count: 1, scope: userPath, key: 'u1', namespace: undefined }],
    ])
    expect(cache.statsSync().evictionsByReason).toMatchObject({ lru: 3, maxItems: 1 })
  })

  it('expire reports reclaimed expired entries; the read that found one is a miss', async () => {
    const cache = new Cache()
    const seen = record(cache, ['expire', 'miss', 'evict'])
    cache.setSync('short', 1, { ...user, ttlSeconds: 0.02 })
    await sleep(40)
    expect(cache.getSync('short', user)).toBeUndefined()
    expect(seen).toEqual([
      ['expire', { count: 1, scope: userPath, key: 'short', namespace: undefined }],
      ['miss', { scope: userPath, key: 'short', namespace: undefined }],
    ])
  })

  it('rule effects are evict events with reason rule', () => {
    const cache = new Cache({
      rules: [
        { name: 'noTmp', onSet: ({ ref }) => (ref.key === 'tmp' ? [{ type: 'evict', ref }] : undefined) },
      ],
    })
    const seen = record(cache, ['evict'])
    cache.setSync('tmp', 1)
    expect(seen).toEqual([
      ['evict', { reason: 'rule', count: 1, scope: [], key: 'tmp', namespace: undefined }],
    ])
  })

  it('off() stops delivery; listeners may remove themselves; listenerCount counts', () => {
    const cache = new Cache()
    const calls: string[] = []
    const once = () => {
      calls.push('once')
      cache.off('hit', once)
    }
    const always = () => void calls.push('always')
    cache.on('hit', once).on('hit', always)
    expect(cache.listenerCount('hit')).toBe(2)
    cache.setSync('k', 1)
    cache.getSync('k')
    cache.getSync('k')
    expect(calls).toEqual(['once', 'always', 'always'])
    cache.off('hit', always)
    expect(cache.listenerCount('hit')).toBe(0)
    cache.getSync('k')
    expect(calls).toHaveLength(3)
  })
})

/** An async storage over a Map whose next operation can be made to fail (a fault a real server can't time). */
class FlakyStorage implements StorageProvider {
  readonly storageType = 'flaky'
  readonly supportsBounds = false
  readonly #map = new Map<string, unknown>()
  failNext = false
  /** How long each read takes. */
  readDelayMs = 0
  attach(_context: StorageContext) {}
  #check() {
    if (this.failNext) {
      this.failNext = false
      throw new Error('timeout')
    }
  }
  async get(ref: EntryRef) {
    await sleep(this.readDelayMs)
    this.#check()
    return this.#map.has(ref.key) ? this.#map.get(ref.key) : MISS
  }
  async set(ref: EntryRef, value: unknown) {
    this.#check()
    this.#map.set(ref.key, value)
  }
  async delete(ref: EntryRef) {
    this.#check()
    return this.#map.delete(ref.key)
  }
  async evictScope() {
    this.#check()
    const n = this.#map.size
    this.#map.clear()
    return n
  }
  async size() {
    return this.#map.size
  }
  async close() {}
}

describe('operation events', () => {
  it('time each storage operation with its outcome, memoized reads and writes included', async () => {
    const storage = new FlakyStorage()
    const cache = new Cache({ storage })
    const ops: CacheEvents['operation'][0][] = []
    cache.on('operation', (event) => void ops.push(event))
    await cache.get('k')
    await cache.set('k', 1)
    await cache.get('k')
    await cache.evict('k')
    await cache.evictByScope('organization', { orgId: 'o' })
    storage.failNext = true
    await expect(cache.get('k')).rejects.toBeInstanceOf(StorageError)
    storage.failNext = true
    const f = cache.cache({ namespace: 'f' })(async () => 7)
    expect(await f()).toBe(7) // the read fails open, then the result is written
    expect(ops.map((o) => `${o.operation}:${o.outcome}`)).toEqual([
      'get:miss',
      'set:ok',
      'get:hit',
      'evict:ok',
      'evictByScope:ok',
      'get:error',
      'get:error',
      'set:ok',
    ])
    for (const { durationMs } of ops) expect(durationMs).toBeGreaterThanOrEqual(0)
    // the duration is the storage's: a read that waits 30 ms inside the storage lasts that long
    storage.readDelayMs = 30
    await cache.get('k')
    expect(ops.at(-1)!.durationMs).toBeGreaterThanOrEqual(20)
  })

  it('time the sync twins too, and stop when the listener goes', () => {
    const cache = new Cache()
    const ops: string[] = []
    const listener = (e: CacheEvents['operation'][0]) => void ops.push(`${e.operation}:${e.outcome}`)
    cache.on('operation', listener)
    cache.setSync('k', 1)
    cache.getSync('k')
    cache.evictSync('k')
    cache.evictByScopeSync('global')
    cache.off('operation', listener)
    cache.getSync('k')
    expect(ops).toEqual(['set:ok', 'get:hit', 'evict:ok', 'evictByScope:ok'])
  })
})

describe.skipIf(redisUrl === undefined)('entry events on a real Redis', () => {
  const caches: Cache<never, RedisStorage>[] = []
  afterAll(async () => {
    for (const cache of caches) await cache.clear()
    await Promise.all(caches.map((c) => c.close()))
  })

  it('LRU evictions name the entry (direct or memoized), expiries are reported, operations are timed', async () => {
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('events') }),
      rules: [new LRUEvict({ maxItems: 2, per: 'user' })],
    })
    caches.push(cache as never)
    const seen = record(cache, ['evict', 'expire'])
    const ops: string[] = []
    cache.on('operation', (e) => void ops.push(`${e.operation}:${e.outcome}`))
    const load = cache.cache({ namespace: 'load', scope: 'user' })(async (q: typeof user) => q.userId)
    await load(user)
    await cache.set('a', 1, user)
    await cache.set('b', 2, user) // evicts the memoized entry, the least recently used
    await cache.set('gone', 1, { ttlSeconds: 0.05 })
    await sleep(120)
    await cache.evict('gone') // finds only the expired entry's traces: an expiry, not an eviction
    expect(seen).toEqual([
      ['evict', { reason: 'lru', count: 1, scope: userPath, key: undefined, namespace: 'load' }],
      ['expire', { count: 1, scope: [], key: 'gone', namespace: undefined }],
    ])
    expect(ops).toEqual(['get:miss', 'set:ok', 'set:ok', 'set:ok', 'set:ok', 'evict:ok'])
  })
})

describe.skipIf(mongoUrl === undefined)('entry events on a real MongoDB (FerretDB)', () => {
  it('max-items evictions name the entry when a listener wants them', async () => {
    const cache = new Cache({
      storage: new MongoDBStorage({ url: mongoUrl!, collectionName: uniqueName('events') }),
      rules: [new MaxItemsEvict({ maxItems: 1, per: 'user' }), new LifeTimeEvict()],
    })
    try {
      await cache.set('first', 1, user)
      const seen = record(cache, ['evict'])
      await cache.set('second', 2, user)
      expect(seen).toEqual([
        ['evict', { reason: 'maxItems', count: 1, scope: userPath, key: 'first', namespace: undefined }],
      ])
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
