/**
 * Grace / stale-while-revalidate, soft and hard timeouts, and the wrap-time checks of the stampede
 * options, over the in-process storages. Only `Date` is faked (it decides staleness); every wait is
 * real, so the refreshes really run in the background.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CacheError, EntryRef, ScopePath, StorageContext, StorageProvider } from '../../src/index.js'
import { Cache, ConfigurationError, MISS, RefreshError, TimeoutError } from '../../src/index.js'
import { sleep } from '../support/services.js'

const T0 = new Date('2030-01-01T00:00:00Z').getTime()

/** Fakes only `Date`, starting at T0; `at(ms)` moves the clock to T0 + ms. */
function clock() {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(T0)
  return { at: (ms: number) => vi.setSystemTime(T0 + ms) }
}

afterEach(() => {
  vi.useRealTimers()
})

/** An async storage in this process's memory (with expiry), without locks. */
class AsyncMapStorage implements StorageProvider {
  readonly storageType: string = 'async_map'
  readonly supportsBounds = false
  readonly map = new Map<string, { value: unknown; until: number }>()
  attach(_context: StorageContext): void {}
  async get(ref: EntryRef): Promise<unknown> {
    await sleep(1)
    const entry = this.map.get(ref.key)
    return entry === undefined || Date.now() >= entry.until ? MISS : entry.value
  }
  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    this.map.set(ref.key, { value, until: ttlMs === undefined ? Infinity : Date.now() + ttlMs })
  }
  async delete(ref: EntryRef): Promise<boolean> {
    return this.map.delete(ref.key)
  }
  async evictScope(_path: ScopePath): Promise<number> {
    const n = this.map.size
    this.map.clear()
    return n
  }
  async size(): Promise<number> {
    return this.map.size
  }
  async close(): Promise<void> {}
}

describe('grace over the in-memory storage', () => {
  it('a sync function answers its stale value at once and refreshes it on a later turn', async () => {
    const { at } = clock()
    const cache = new Cache()
    let calls = 0
    const version = cache.cache({ ttlSeconds: 1, graceSeconds: 10 })(function version() {
      return ++calls
    })
    expect(version()).toBe(1)
    at(999)
    expect(version()).toBe(1)
    at(1000) // stale from here
    expect(version()).toBe(1)
    expect(version()).toBe(1)
    expect(calls).toBe(1) // the refresh has not run yet: this call did not wait for it
    await sleep(5)
    expect(calls).toBe(2) // one refresh for both stale hits
    expect(version()).toBe(2)
    at(11_999) // refreshed at T0+1000: fresh until 2000, kept (stale) until 1000 + 1000 + 10_000
    expect(version()).toBe(2)
    await sleep(5)
    expect(version()).toBe(3)
    at(60_000) // grace over: a plain miss, computed synchronously
    expect(version()).toBe(4)
    expect(calls).toBe(4)
  })

  it('concurrent stale hits of an async function start one refresh and answer the stale value', async () => {
    const { at } = clock()
    const cache = new Cache()
    let calls = 0
    const load = cache.cache({ ttlSeconds: 1, graceSeconds: 60 })(async function load(id: number) {
      calls++
      await sleep(30)
      return `${id}#${calls}`
    })
    expect(await load(7)).toBe('7#1')
    at(1500)
    const stale = await Promise.all(Array.from({ length: 20 }, () => load(7)))
    expect(new Set(stale)).toEqual(new Set(['7#1']))
    await sleep(60)
    expect(calls).toBe(2)
    expect(await load(7)).toBe('7#2')
    expect(calls).toBe(2)
  })

  it('a failing refresh keeps serving the stale value within grace and emits a RefreshError', async () => {
    const { at } = clock()
    const cache = new Cache()
    const errors: [CacheError, string][] = []
    cache.on('error', (error, { operation }) => errors.push([error, operation]))
    let calls = 0
    const rate = cache.cache({ ttlSeconds: 1, graceSeconds: 5, namespace: 'rate' })(async function rate() {
      calls++
      if (calls > 1) throw new Error('upstream down')
      return 1.25
    })
    expect(await rate()).toBe(1.25)
    at(2000)
    expect(await rate()).toBe(1.25)
    await sleep(5)
    expect(await rate()).toBe(1.25) // the second refresh fails too
    await sleep(5)
    expect(calls).toBe(3)
    expect(errors).toHaveLength(2)
    const [error, operation] = errors[0]!
    expect(operation).toBe('refresh')
    expect(error).toBeInstanceOf(RefreshError)
    expect(error.code).toBe('ERR_CACHEADO_REFRESH')
    expect((error as RefreshError).namespace).toBe('rate')
    expect(error.message).toMatch(/refresh of memoized rate failed: upstream down/)
    expect((error.cause as Error).message).toBe('upstream down')
    at(6000) // grace over: the function's failure reaches the caller
    await expect(rate()).rejects.toThrow('upstream down')
  })

  it('softTimeoutMs: a stale hit waits that long for the refresh, then answers the stale value', async () => {
    const { at } = clock()
    const cache = new Cache()
    let delay = 0
    let calls = 0
    const price = cache.cache({ ttlSeconds: 1, graceSeconds: 60, softTimeoutMs: 100 })(
      async function price() {
        calls++
        await sleep(delay)
        return calls
      },
    )
    expect(await price()).toBe(1)
    at(1000)
    delay = 10 // arrives within the soft timeout: the fresh value is answered
    expect(await price()).toBe(2)
    at(3000)
    delay = 400 // too slow: the stale value is answered, the refresh goes on
    expect(await price()).toBe(2)
    await sleep(450)
    expect(await price()).toBe(3) // stored by the refresh that outlived the soft timeout
    expect(calls).toBe(3)
  })

  it('softTimeoutMs answers the stale value at once when the refresh fails', async () => {
    const { at } = clock()
    const cache = new Cache()
    cache.on('error', () => undefined)
    let calls = 0
    const f = cache.cache({ ttlSeconds: 1, graceSeconds: 60, softTimeoutMs: 5000 })(async function f() {
      if (++calls > 1) throw new Error('nope')
      return 'v1'
    })
    expect(await f()).toBe('v1')
    at(1000)
    const started = performance.now()
    expect(await f()).toBe('v1')
    expect(performance.now() - started).toBeLessThan(2500) // did not wait for the 5 s soft timeout
  })

  it('stats: a stale hit is a hit, its refresh a set', async () => {
    const { at } = clock()
    const cache = new Cache()
    const f = cache.cache({ ttlSeconds: 1, graceSeconds: 60 })(async function counted() {
      return 1
    })
    await f()
    at(1000)
    await f()
    await sleep(5)
    expect(cache.statsSync()).toMatchObject({ hits: 1, misses: 1, sets: 2, totalKeys: 1 })
  })

  it('an eviction of the scope while a refresh runs is not undone by it', async () => {
    const { at } = clock()
    const cache = new Cache()
    let calls = 0
    const f = cache.cache({ ttlSeconds: 1, graceSeconds: 60, scope: 'organization' })(
      async function org(args: { orgId: string }) {
        calls++
        await sleep(20)
        return `${args.orgId}:${calls}`
      },
    )
    expect(await f({ orgId: 'o1' })).toBe('o1:1')
    at(1000)
    expect(await f({ orgId: 'o1' })).toBe('o1:1') // starts the refresh
    expect(cache.evictByScopeSync('organization', { orgId: 'o1' })).toBe(1)
    await sleep(40)
    expect(cache.statsSync().totalKeys).toBe(0)
    expect(await f({ orgId: 'o1' })).toBe('o1:3')
  })

  it('over an async storage: the stored entry lives ttl + grace, direct keys are untouched', async () => {
    const { at } = clock()
    const storage = new AsyncMapStorage()
    const cache = new Cache({ storage })
    let calls = 0
    const f = cache.cache({ ttlSeconds: 2, graceSeconds: 3 })(async function tagged() {
      return ++calls
    })
    await cache.set('plain', { a: 1 }, { ttlSeconds: 2 })
    expect(await f()).toBe(1)
    const [memo] = [...storage.map].filter(([key]) => key.startsWith('#m:'))
    expect(memo![1].until).toBe(T0 + 5000)
    expect(memo![1].value).toEqual({ 'cacheado:staleAt': T0 + 2000, v: 1 })
    expect(storage.map.get('plain')).toEqual({ value: { a: 1 }, until: T0 + 2000 })
    expect(await cache.get('plain')).toEqual({ a: 1 })
    at(4999)
    expect(await f()).toBe(1)
    await sleep(5)
    expect(await f()).toBe(2)
  })
})

describe('hardTimeoutMs', () => {
  it('a miss whose function is slower rejects with a TimeoutError; the late result is stored', async () => {
    const cache = new Cache()
    let calls = 0
    const slow = cache.cache({ hardTimeoutMs: 50, namespace: 'slow' })(async function slow() {
      calls++
      await sleep(200)
      return 'late'
    })
    const settled = await Promise.allSettled([slow(), slow()])
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected')
      const error = (outcome as PromiseRejectedResult).reason as TimeoutError
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error.code).toBe('ERR_CACHEADO_TIMEOUT')
      expect(error.timeoutMs).toBe(50)
      expect(error.message).toMatch(/memoized slow did not answer within hardTimeoutMs \(50 ms\)/)
      expect([error.operation, error.namespace, error.storageType]).toEqual(['memoize', 'slow', undefined])
    }
    await sleep(250)
    expect(await slow()).toBe('late')
    expect(calls).toBe(1)
  })

  it('a function that fails within the hard timeout passes its own error on', async () => {
    const cache = new Cache()
    const failing = cache.cache({ hardTimeoutMs: 1000 })(async function failingFast() {
      await sleep(5)
      throw new Error('bad request')
    })
    await expect(failing()).rejects.toThrow('bad request')
  })

  it('a function within the hard timeout answers normally, also over an async storage', async () => {
    const cache = new Cache({ storage: new AsyncMapStorage() })
    const fast = cache.cache({ hardTimeoutMs: 500 })(async function fast(n: number) {
      await sleep(5)
      return n + 1
    })
    expect(await fast(1)).toBe(2)
    expect(await fast(1)).toBe(2)
    const slow = cache.cache({ hardTimeoutMs: 20 })(async function slowAsync() {
      await sleep(100)
      return 1
    })
    await expect(slow()).rejects.toBeInstanceOf(TimeoutError)
  })

  it('a stale hit is bound by the soft timeout, not the hard one', async () => {
    const { at } = clock()
    const cache = new Cache()
    let calls = 0
    const f = cache.cache({ ttlSeconds: 1, graceSeconds: 60, softTimeoutMs: 2000, hardTimeoutMs: 20 })(
      async function f() {
        calls++
        if (calls > 1) await sleep(100)
        return calls
      },
    )
    expect(await f()).toBe(1)
    at(1000)
    expect(await f()).toBe(2) // waited ~100 ms for the refresh, past the hard timeout, without a TimeoutError
  })
})

describe('lock over storages without cross-process locks', () => {
  it('is a no-op over the in-memory storage: single flight already runs the function once', async () => {
    const cache = new Cache()
    let calls = 0
    const f = cache.cache({ lock: true })(async function locked() {
      calls++
      await sleep(10)
      return 1
    })
    expect(await Promise.all([f(), f(), f()])).toEqual([1, 1, 1])
    expect(calls).toBe(1)
  })

  it('is a ConfigurationError over an async storage without locks', () => {
    const cache = new Cache({ storage: new AsyncMapStorage() })
    expect(() => cache.cache({ lock: true })).toThrow(ConfigurationError)
    expect(() => cache.cache({ lock: true })).toThrow(
      /the async_map storage has no cross-process locks, so lock cannot work with it; remove the lock option/,
    )
    expect(() => cache.cache({ lock: false })).not.toThrow()
  })
})

describe('wrap-time checks of the stampede options', () => {
  const cases: [object, RegExp][] = [
    [{ graceSeconds: 10 }, /graceSeconds needs a TTL/],
    [{ ttlSeconds: 1, graceSeconds: -1 }, /graceSeconds must be a positive finite number, got -1/],
    [{ ttlSeconds: 1, graceSeconds: '5' }, /graceSeconds must be a positive finite number, got string/],
    [{ ttlSeconds: 1, softTimeoutMs: 50 }, /softTimeoutMs needs graceSeconds/],
    [{ ttlSeconds: 1, graceSeconds: 5, softTimeoutMs: 0 }, /softTimeoutMs must be a positive/],
    [{ hardTimeoutMs: Infinity }, /hardTimeoutMs must be a positive finite number, got Infinity/],
    [{ lock: 'yes' }, /the lock option must be true, false or \{ ttlMs\?, waitMs\? \}, got string/],
    [{ lock: { ttlMs: 0 } }, /lock.ttlMs must be a positive finite number, got 0/],
    [{ lock: { waitMs: -1 } }, /lock.waitMs must be a finite number of milliseconds >= 0, got -1/],
  ]
  it.each(cases)('%j is refused with a ConfigurationError saying how to fix it', (options, message) => {
    const cache = new Cache()
    expect(() => cache.cache(options as never)).toThrow(ConfigurationError)
    expect(() => cache.cache(options as never)).toThrow(message)
  })

  it('graceSeconds takes the cache default TTL', () => {
    const cache = new Cache({ defaultTtlSeconds: 30 })
    expect(() => cache.cache({ graceSeconds: 60 })).not.toThrow()
  })
})
