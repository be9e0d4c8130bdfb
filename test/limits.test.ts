// One maximum TTL for every backend, and no duration that arms a timer beyond what a Node timer can wait.
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import type { StorageProvider } from '../src/index.js'
import { Cache, ConfigurationError, InvalidArgumentError, LifeTimeEvict } from '../src/index.js'
import { MongoDBStorage } from '../src/mongodb.js'
import { RedisBus, RedisStorage } from '../src/redis.js'
import { MAX_TIMER_MS, MAX_TTL_SECONDS } from '../src/ttl.js'
import { sharedStorages } from './support/shared-storages.js'

const storages: { name: string; make: () => StorageProvider }[] = [
  { name: 'memory', make: () => undefined as unknown as StorageProvider },
  ...sharedStorages('limits'),
]

const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

describe.each(storages)('the maximum TTL on $name', ({ make }) => {
  it('refuses ttlSeconds above it, writes nothing, and a valid write of the same tick succeeds', async () => {
    const storage = make()
    const cache = new Cache(storage === undefined ? {} : { storage }) as unknown as Cache<
      never,
      StorageProvider
    >
    opened.push(cache)
    const scope = { scope: 'organization', orgId: 'huge\u0000\u001b[31m' } as never
    const valid = { scope: 'organization', orgId: 'fine' } as never
    for (const ttlSeconds of [1e16, MAX_TTL_SECONDS + 1, Number.MAX_VALUE]) {
      const results = await Promise.allSettled([
        cache.set('big', 'x'.repeat(10_000), { ...(scope as object), ttlSeconds } as never),
        cache.set('ok', ttlSeconds, { ...(valid as object), ttlSeconds: MAX_TTL_SECONDS } as never),
      ])
      expect(results[1]).toEqual({ status: 'fulfilled', value: undefined })
      expect(results[0]!.status).toBe('rejected')
      const error = (results[0] as PromiseRejectedResult).reason as Error
      expect(error).toBeInstanceOf(InvalidArgumentError)
      expect(error.message).toContain(`at most ${MAX_TTL_SECONDS} seconds`)
      expect(error.message).toContain('leave ttlSeconds out for no expiry')
      expect(await cache.get('big', scope)).toBeUndefined()
      expect(await cache.get('ok', valid)).toBe(ttlSeconds)
    }
    expect((await cache.stats()).totalKeys).toBe(1)
    expect(
      await cache.evictByScope('organization' as never, { orgId: 'huge\u0000\u001b[31m' } as never),
    ).toBe(0)
    expect(await cache.clear()).toBe(1)
    // The maximum itself is accepted.
    await cache.set('max', 1, { ttlSeconds: MAX_TTL_SECONDS } as never)
    expect(await cache.get('max')).toBe(1)
  })

  it('refuses it in configuration with a ConfigurationError', () => {
    expect(() => new Cache({ defaultTtlSeconds: 1e16 })).toThrow(ConfigurationError)
    const cache = new Cache()
    expect(() => cache.cache({ ttlSeconds: 1e16 })).toThrow(/at most 3155760000 seconds/)
    expect(() => cache.cache({ ttlSeconds: MAX_TTL_SECONDS, graceSeconds: 1 })).toThrow(ConfigurationError)
  })
})

describe('durations that arm timers', () => {
  const tooLong = MAX_TIMER_MS + 1
  const lazyClient = new Redis({ lazyConnect: true })
  afterAll(() => lazyClient.disconnect())
  const cases: [string, () => unknown][] = [
    ['hardTimeoutMs', () => new Cache().cache({ hardTimeoutMs: tooLong })],
    ['softTimeoutMs', () => new Cache().cache({ ttlSeconds: 1, graceSeconds: 1, softTimeoutMs: tooLong })],
    ['lock.ttlMs', () => new Cache().cache({ lock: { ttlMs: tooLong } })],
    ['lock.waitMs', () => new Cache().cache({ lock: { waitMs: tooLong } })],
    ['sweepIntervalSeconds', () => new LifeTimeEvict({ sweepIntervalSeconds: tooLong / 1000 + 1 })],
    ['commandTimeoutMs', () => new RedisStorage({ url: 'redis://127.0.0.1:1', commandTimeoutMs: tooLong })],
    [
      'operationTimeoutMs',
      () => new MongoDBStorage({ url: 'mongodb://127.0.0.1:1', operationTimeoutMs: tooLong }),
    ],
    ['sweepIntervalMs', () => new MongoDBStorage({ url: 'mongodb://127.0.0.1:1', sweepIntervalMs: tooLong })],
    ['timeoutMs', () => new RedisBus({ client: lazyClient, channel: 'c', timeoutMs: tooLong })],
    ['leaseMs', () => new RedisBus({ client: lazyClient, channel: 'c', leaseMs: tooLong + 1 })],
    [
      'local.ttlSeconds',
      () =>
        new Cache({
          storage: new RedisStorage({ url: 'redis://127.0.0.1:1' }),
          local: { ttlSeconds: tooLong / 1000 + 1 },
        }),
    ],
  ]
  it.each(cases)('%s above 2^31-1 ms is a ConfigurationError naming the option', (name, make) => {
    expect(make).toThrow(ConfigurationError)
    expect(make).toThrow(name)
    expect(make).toThrow(`at most ${MAX_TIMER_MS} ms`)
  })

  it('the largest timer is accepted', () => {
    expect(() => new Cache().cache({ hardTimeoutMs: MAX_TIMER_MS })).not.toThrow()
  })
})
