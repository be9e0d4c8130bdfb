/**
 * Bulk operations and inspection beyond the conformance cases (which run them on every provider):
 * sync twins and their errors, events and rule hooks per key, metadata tiers with a local tier, the
 * bus messages of bulk writes and removals (one per call), and races of bulk reads and writes with
 * scope evictions (repeated).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { BusMessageInfo, BusResetInfo, EntryRef, StorageProvider } from '../src/index.js'
import {
  Cache,
  CacheClosedError,
  ConfigurationError,
  InMemory,
  InvalidArgumentError,
  LRUEvict,
  MAX_BULK_KEYS,
  MISS,
  StorageError,
} from '../src/index.js'
import { directKey } from '../src/keys/entry-key.js'
import { RedisStorage } from '../src/redis.js'
import { scopes } from './storage/conformance.js'
import { redisClusterNodes, redisUrl, sleep, uniqueName } from './support/services.js'

const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const

/** A provider with only the required methods (no getWithExpiry, no bulk capabilities). */
function minimal(): StorageProvider {
  const inner = new InMemory()
  return {
    storageType: 'minimal',
    supportsBounds: false,
    attach: (context) => inner.attach(context),
    get: (ref: EntryRef) => inner.get(ref),
    set: (ref, value, ttlMs) => inner.set(ref, value, ttlMs),
    delete: (ref) => inner.delete(ref),
    evictScope: (path) => inner.evictScope(path),
    size: () => inner.size(),
    close: () => inner.close(),
  }
}

describe('bulk operations on the in-memory storage', () => {
  it('setMany refuses tags before writing anything, naming cache.set as the way to tag', async () => {
    const cache = new Cache()
    const tagged = { ...u1, tags: ['plan:pro'] }
    await expect(cache.setMany([{ key: 'a', value: 1 }], tagged)).rejects.toThrow(
      /setMany\(entries, options\): tags are not taken by bulk writes yet; .*cache\.set\(key, value, \{ tags \}\)/,
    )
    expect(() => cache.setManySync([{ key: 'a', value: 1 }], tagged)).toThrow(InvalidArgumentError)
    expect(cache.getManySync(['a'], u1)).toEqual([undefined])
    expect(cache.counters().sets).toBe(0)
  })

  it('sync twins answer what the async methods answer, with the same stats', () => {
    const cache = new Cache()
    cache.setManySync(
      [
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttlSeconds: 60 },
      ],
      u1,
    )
    expect(cache.getManySync(['a', 'b', 'c', 'a'], u1)).toEqual([1, 2, undefined, 1])
    expect(cache.hasSync('a', u1)).toBe(true)
    expect(cache.hasSync('c', u1)).toBe(false)
    expect(cache.expiresAtSync('a', u1)).toBeNull()
    expect(cache.expiresAtSync('b', u1)).toBeGreaterThan(Date.now() + 59_000)
    expect(cache.expiresAtSync('c', u1)).toBeUndefined()
    expect(cache.getWithMetadataSync('b', u1)).toMatchObject({ value: 2, status: 'hit', tier: 'memory' })
    expect(cache.evictManySync(['a', 'a', 'c'], u1)).toBe(1)
    const stats = cache.statsSync()
    expect([stats.hits, stats.misses, stats.sets, stats.evictionsByReason.explicit]).toEqual([4, 1, 2, 1])
  })

  it('emits one hit or miss event per key and runs rule hooks per key', async () => {
    const cache = new Cache({ rules: [new LRUEvict({ maxItems: 2 })] })
    const seen: string[] = []
    cache.on('hit', (info) => seen.push(`hit ${info.key}`))
    cache.on('miss', (info) => seen.push(`miss ${info.key}`))
    cache.on('set', (info) => seen.push(`set ${info.key}`))
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ])
    await cache.getMany(['a', 'x'])
    await cache.set('c', 3) // b is the least recently used: a was read by getMany
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, undefined, 3])
    expect(seen).toEqual(['set a', 'set b', 'hit a', 'miss x', 'set c', 'hit a', 'miss b', 'hit c'])
  })

  it('refuses bad calls with typed errors: sync twins on an async storage, closed cache, expiry unknown', async () => {
    const cache = new Cache({ storage: minimal() })
    await cache.setMany([{ key: 'a', value: 1 }])
    expect(await cache.getMany(['a', 'b'])).toEqual([1, undefined]) // the generic fallback
    expect(await cache.has('a')).toBe(true)
    expect(await cache.evictMany(['a', 'b'])).toBe(1)
    expect(await cache.getWithMetadata('b')).toEqual({
      value: undefined,
      status: 'miss',
      tier: 'shared',
      expiresAt: undefined,
    })
    await expect(cache.expiresAt('a')).rejects.toThrow(ConfigurationError)
    await expect(cache.expiresAt('a')).rejects.toThrow(/getWithExpiry/)
    const sync = cache as unknown as Cache<typeof cache.scopes, InMemory>
    expect(() => sync.getManySync(['a'])).toThrow(/needs a synchronous storage/)
    expect(() => sync.setManySync([])).toThrow(ConfigurationError)
    await cache.close()
    await expect(cache.getMany(['a'])).rejects.toThrow(CacheClosedError)
    await expect(cache.setMany([])).rejects.toThrow(CacheClosedError)
    const memory = new Cache()
    expect(() => memory.getManySync(new Array<string>(MAX_BULK_KEYS + 1).fill('k'))).toThrow(
      InvalidArgumentError,
    )
  })

  it('a failing storage rejects bulk calls with a StorageError, observed as failed operations', async () => {
    const failing: StorageProvider = {
      ...minimal(),
      storageType: 'failing',
      get: () => Promise.reject(new Error('down')),
      getMany: () => Promise.reject(new Error('down')),
      getWithExpiry: () => Promise.reject(new Error('down')),
      setMany: () => Promise.reject(new Error('down')),
      deleteMany: () => Promise.reject(new Error('down')),
    }
    const cache = new Cache({ storage: failing })
    const outcomes: string[] = []
    cache.on('operation', (info) => outcomes.push(`${info.operation} ${info.outcome}`))
    await expect(cache.getMany(['a'])).rejects.toThrow(StorageError)
    await expect(cache.setMany([{ key: 'a', value: 1 }])).rejects.toThrow(StorageError)
    await expect(cache.evictMany(['a'])).rejects.toThrow(StorageError)
    await expect(cache.has('a')).rejects.toThrow(StorageError)
    await expect(cache.expiresAt('a')).rejects.toThrow(StorageError)
    await expect(cache.getWithMetadata('a')).rejects.toThrow(StorageError)
    expect(outcomes).toEqual(['get error', 'set error', 'evict error', 'get error'])
    expect(cache.counters()).toMatchObject({ hits: 0, misses: 0, sets: 0 })
  })

  it('a refused setMany writes nothing, even when the bad entry is the last of 10k', async () => {
    const cache = new Cache()
    const entries = Array.from({ length: MAX_BULK_KEYS }, (_, i) => ({ key: `k${i}`, value: i }))
    entries[entries.length - 1] = { key: 'bad\ud800', value: 0 }
    expect(() => cache.setManySync(entries)).toThrow(/entries\[9999\]\.key/)
    expect(cache.statsSync().totalKeys).toBe(0)
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

describe.skipIf(targets.length === 0).each(targets)(
  'bulk operations with local tiers ($name)',
  ({ make }) => {
    const open: Cache<typeof scopes, StorageProvider>[] = []
    afterEach(async () => {
      for (const cache of open.splice(0)) {
        await cache.clear().catch(() => undefined)
        await cache.close()
      }
    })

    async function tiered(prefix: string) {
      const cache = new Cache({ scopes, storage: make(prefix), local: {} })
      open.push(cache)
      const resets: BusResetInfo[] = []
      const messages: BusMessageInfo[] = []
      cache.on('busReset', (info) => resets.push(info))
      cache.on('busMessage', (info) => messages.push(info))
      for (let i = 0; i < 500 && resets.length === 0; i++) await sleep(10)
      expect(resets.length).toBe(1)
      return { cache, messages }
    }

    it('getMany serves local hits locally and reads only the misses; metadata names the tier', async () => {
      const prefix = uniqueName('bulk')
      const a = await tiered(prefix)
      const b = await tiered(prefix)
      await a.cache.setMany(
        [
          { key: 'x', value: 1, ttlSeconds: 60 },
          { key: 'y', value: 2 },
        ],
        u1,
      )
      for (let i = 0; i < 200 && b.messages.length === 0; i++) await sleep(5) // a's message reached b
      expect(await a.cache.getWithMetadata('x', u1)).toMatchObject({ value: 1, status: 'hit', tier: 'local' })
      const meta = await b.cache.getWithMetadata('x', u1)
      expect(meta).toMatchObject({ value: 1, status: 'hit', tier: 'shared' })
      expect(meta.expiresAt).toBeGreaterThan(Date.now() + 50_000)
      expect(await b.cache.getWithMetadata('x', u1)).toMatchObject({ tier: 'local' }) // filled by the read
      expect(await b.cache.getMany(['x', 'y', 'z'], u1)).toEqual([1, 2, undefined])
      expect(await b.cache.getWithMetadata('y', u1)).toMatchObject({ tier: 'local' }) // filled by getMany
      expect(await b.cache.expiresAt('y', u1)).toBeNull() // the shared entry's, not the copy's
    })

    it('setMany and evictMany drop the other process’s copies with one message per call', async () => {
      const prefix = uniqueName('bulk')
      const a = await tiered(prefix)
      const b = await tiered(prefix)
      const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
      await a.cache.setMany(
        keys.map((key) => ({ key, value: 'v1' })),
        u1,
      )
      for (let i = 0; i < 200 && b.messages.length === 0; i++) await sleep(5)
      expect(await b.cache.getMany(keys, u1)).toEqual(keys.map(() => 'v1')) // b's L1 now holds them
      const before = b.messages.length
      await a.cache.setMany(
        keys.map((key) => ({ key, value: 'v2' })),
        u1,
      )
      for (let i = 0; i < 200 && b.messages.length === before; i++) await sleep(5)
      expect(await b.cache.getMany(keys, u1)).toEqual(keys.map(() => 'v2'))
      expect(b.messages.length - before).toBe(1)
      const message = b.messages.at(-1)!
      expect(message.invalidation.kind === 'entries' && message.invalidation.refs.length).toBe(50)
      expect(await a.cache.evictMany(keys, u1)).toBe(50)
      for (let i = 0; i < 200 && b.messages.length - before < 2; i++) await sleep(5)
      await sleep(50)
      expect(b.messages.length - before).toBe(2) // one message for the 50 removals
      expect(await b.cache.getMany(keys, u1)).toEqual(keys.map(() => undefined))
    })

    it('race: nothing written before evictByScope resolves is readable by getMany after it (50 runs)', async () => {
      const prefix = uniqueName('bulk')
      const a = await tiered(prefix)
      const b = await tiered(prefix)
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
      for (let run = 0; run < 50; run++) {
        const opts = { scope: 'user', orgId: `o${run}`, userId: 'u' } as const
        await a.cache.setMany(
          keys.map((key) => ({ key, value: run })),
          opts,
        )
        // Reads racing the eviction in both processes (they may fill their L1 with the old values).
        const reads = [a.cache.getMany(keys, opts), b.cache.getMany(keys, opts), b.cache.getMany(keys, opts)]
        await a.cache.evictByScope('organization', { orgId: `o${run}` })
        await Promise.all(reads)
        expect(await a.cache.getMany(keys, opts)).toEqual(keys.map(() => undefined))
        // b heard of the eviction within the bus's delivery time: no copy survives it.
        for (let i = 0; i < 200 && (await b.cache.getMany(keys, opts)).some((v) => v !== undefined); i++)
          await sleep(5)
        expect(await b.cache.getMany(keys, opts)).toEqual(keys.map(() => undefined))
      }
    })

    it('race: a setMany racing evictByScope leaves each entry either evicted or written after (50 runs)', async () => {
      const prefix = uniqueName('bulk')
      const a = await tiered(prefix)
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
      for (let run = 0; run < 50; run++) {
        const opts = { scope: 'user', orgId: `r${run}`, userId: 'u' } as const
        await a.cache.setMany(
          keys.map((key) => ({ key, value: 'old' })),
          opts,
        )
        const writing = a.cache.setMany(
          keys.map((key) => ({ key, value: 'new' })),
          opts,
        )
        await a.cache.evictByScope('organization', { orgId: `r${run}` })
        await writing
        const values = await a.cache.getMany(keys, opts)
        // 'old' was written before the eviction started: it must be gone everywhere, L1 included.
        expect(values.filter((v) => v === 'old')).toEqual([])
        const storage = a.cache.storage
        const shared = await Promise.all(
          keys.map((key) =>
            storage.get({
              scope: [
                { level: 'organization', id: `r${run}` },
                { level: 'user', id: 'u' },
              ],
              key: directKey(key),
            }),
          ),
        )
        expect(shared.filter((v) => v === 'old')).toEqual([])
        expect(values).toEqual(shared.map((v) => (v === MISS ? undefined : v)))
      }
    })
  },
)
