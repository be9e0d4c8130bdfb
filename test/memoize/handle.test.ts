/**
 * The memoized function handle (`evict`, `refresh`, `peek`, `withMetadata`, `cache.memoized(instance,
 * method)`), per-result TTLs and tags, on every backend (memory, Redis, Cluster, FerretDB, with and
 * without a local tier); a refresh racing a scope eviction or a clear, repeated 60 times.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, InvalidArgumentError } from '../../src/index.js'
import { sleep, uniqueName } from '../support/services.js'
import type { TestCache } from './backends.js'
import { backends } from './backends.js'

const RUNS = 60

/** Waits until `done()` holds, at most `ms`. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error(`not done within ${ms} ms`)
    await sleep(5)
  }
}
const u1 = { orgId: 'o1', userId: 'u1' }

const open: TestCache[] = []
afterEach(async () => {
  for (const cache of open.splice(0)) {
    await cache.clear().catch(() => undefined)
    await cache.close()
  }
})

describe.each(backends())('memoized function handle on $name', (backend) => {
  const make = async (prefix = uniqueName('handle')) => {
    const cache = await backend.make(prefix)
    open.push(cache)
    return cache
  }

  it('evict drops the entry of those arguments only and answers whether there was one', async () => {
    const cache = await make()
    let runs = 0
    const load = cache.cache({ scope: 'user', ttlSeconds: 60 })(async function load(q: typeof u1, n: number) {
      runs++
      return `${q.userId}:${n}:${runs}`
    })
    expect(await load(u1, 1)).toBe('u1:1:1')
    expect(await load(u1, 2)).toBe('u1:2:2')
    expect(await load.evict(u1, 1)).toBe(true)
    expect(await load.evict(u1, 1)).toBe(false)
    expect(await load(u1, 2)).toBe('u1:2:2') // untouched
    expect(await load(u1, 1)).toBe('u1:1:3') // ran again
  })

  it('refresh runs the function now, stores and answers its result; concurrent refreshes and misses share one run', async () => {
    const cache = await make()
    let runs = 0
    const load = cache.cache({ ttlSeconds: 60 })(async function load(n: number) {
      runs++
      await sleep(20)
      return n * 100 + runs
    })
    expect(await load(1)).toBe(101)
    expect(await load.refresh(1)).toBe(102)
    expect(await load(1)).toBe(102)
    expect(runs).toBe(2)
    const together = await Promise.all([load.refresh(2), load(2), load.refresh(2), load(2)])
    expect(new Set(together).size).toBe(1)
    expect(runs).toBe(3)
  })

  it('peek answers the cached value or undefined, never runs the function and is not counted', async () => {
    const cache = await make()
    let runs = 0
    const load = cache.cache({ ttlSeconds: 60 })(async function load(n: number) {
      runs++
      return { n }
    })
    expect(await load.peek(1)).toBeUndefined()
    expect(runs).toBe(0)
    await load(1)
    const before = cache.counters()
    expect(await load.peek(1)).toEqual({ n: 1 })
    expect(await load.peek(2)).toBeUndefined()
    const after = cache.counters()
    expect([after.hits, after.misses]).toEqual([before.hits, before.misses])
    expect(runs).toBe(1)
  })

  it('withMetadata tells a miss from a hit, the tier and the expiry', async () => {
    const cache = await make()
    const load = cache.cache({ ttlSeconds: 60, refreshAheadSeconds: 5 })(async function load(n: number) {
      return n
    })
    const before = Date.now()
    const miss = await load.withMetadata(7)
    expect(miss).toMatchObject({ value: 7, status: 'miss', tier: backend.shared ? 'shared' : 'memory' })
    const hit = await load.withMetadata(7)
    expect(hit.value).toBe(7)
    expect(hit.status).toBe('hit')
    expect(hit.tier).toBe(backend.local ? 'local' : backend.shared ? 'shared' : 'memory')
    expect(hit.expiresAt).toBeGreaterThanOrEqual(before + 60_000)
    expect(hit.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000)
    const forever = cache.cache({ namespace: 'forever' })(async (n: number) => n)
    await forever(1)
    expect((await forever.withMetadata(1)).expiresAt).toBeNull()
  })

  it('a decorated method has its handle through cache.memoized(instance, method)', async () => {
    const cache = await make()
    class Repo {
      runs = 0
      constructor(readonly name: string) {}
      @cache.cache({ ttlSeconds: 60, namespace: 'Repo.find' })
      async find(id: string): Promise<string> {
        this.runs++
        return `${this.name}:${id}:${this.runs}`
      }
    }
    const repo = new Repo('r')
    expect(await repo.find('a')).toBe('r:a:1')
    const handle = cache.memoized(repo, 'find')
    expect(await handle.peek('a')).toBe('r:a:1')
    expect(await handle.refresh('a')).toBe('r:a:2') // ran with this = repo
    expect(await handle.evict('a')).toBe(true)
    expect(await handle.peek('a')).toBeUndefined()
    expect(() => cache.memoized(repo, 'runs' as never)).toThrow(InvalidArgumentError)
  })

  it('ttlSeconds as a function of the result; a bad or throwing one rejects and stores nothing', async () => {
    const cache = await make()
    const load = cache.cache({ ttlSeconds: (result: string) => (result === '' ? 0.2 : 60) })(
      async function load(s: string) {
        return s
      },
    )
    await load('')
    await load('x')
    await sleep(400)
    expect(await load.peek('')).toBeUndefined()
    expect(await load.peek('x')).toBe('x')
    const bad = cache.cache({ namespace: 'bad', ttlSeconds: () => -1 })(async (s: string) => s)
    await expect(bad('a')).rejects.toThrow(InvalidArgumentError)
    expect(await bad.peek('a')).toBeUndefined()
    const throwing = cache.cache({
      namespace: 'throwing',
      ttlSeconds: () => {
        throw new Error('ttl hook failed')
      },
    })(async (s: string) => s)
    await expect(throwing('a')).rejects.toThrow('ttl hook failed')
    expect(await throwing.peek('a')).toBeUndefined()
    await expect(throwing('a')).rejects.toThrow('ttl hook failed') // not stuck, runs again
    const badTags = cache.cache({ namespace: 'tags', tags: () => [''] })(async (s: string) => s)
    await expect(badTags('a')).rejects.toThrow(InvalidArgumentError)
  })

  it(`a refresh racing evictByScope or clear never stores a value computed before it (${RUNS} runs each)`, async () => {
    const prefix = uniqueName('race')
    const cache = await make(prefix)
    const other = backend.shared ? await make(prefix) : cache // another process sharing the storage
    let epoch = 0
    const load = cache.cache({ scope: 'user', ttlSeconds: 60, namespace: 'race' })(async function race(
      _q: typeof u1,
    ) {
      const started = epoch
      await sleep(Math.random() * 8)
      return started
    })
    let messages = 0
    cache.on('busMessage', () => messages++)
    for (let run = 0; run < RUNS; run++) {
      await load(u1)
      const refreshing = load.refresh(u1)
      await sleep(Math.random() * 6)
      epoch++
      const evictor = run % 4 < 2 ? cache : other
      const heard = messages
      if (run % 2 === 0) await evictor.evictByScope('organization', { orgId: 'o1' })
      else await evictor.clear()
      await refreshing
      // Another process's eviction reaches this one's local tier through the bus.
      if (evictor !== cache && backend.local) await until(() => messages > heard, 1000)
      const stored = await load.peek(u1)
      if (stored !== undefined) expect(stored).toBeGreaterThanOrEqual(epoch)
    }
  })
})

describe('the handle follows the function’s sync/async rule', () => {
  it('a sync function over the in-memory storage gets sync handle methods', () => {
    const cache = new Cache()
    let runs = 0
    const square = cache.cache({ ttlSeconds: 60 })(function square(n: number) {
      runs++
      return n * n
    })
    expect(square.peek(3)).toBeUndefined()
    expect(square.withMetadata(3)).toMatchObject({ value: 9, status: 'miss', tier: 'memory' })
    expect(square.withMetadata(3)).toMatchObject({ value: 9, status: 'hit', tier: 'memory' })
    expect(square.peek(3)).toBe(9)
    expect(square.refresh(3)).toBe(9)
    expect(runs).toBe(2)
    expect(square.evict(3)).toBe(true)
    expect(square.evict(3)).toBe(false)
    const asyncOne = cache.cache({ namespace: 'a' })(async (n: number) => n)
    expect(asyncOne.evict(1)).toBeInstanceOf(Promise)
  })

  it('refuses bad refresh-ahead options at wrap time', () => {
    const cache = new Cache()
    expect(() => cache.cache({ ttlSeconds: 10, refreshAheadSeconds: 10 })).toThrow(/less than ttlSeconds/)
    expect(() => cache.cache({ refreshAheadSeconds: 1 })).toThrow(/needs a TTL/)
    expect(() => cache.cache({ ttlSeconds: 10, refreshAheadSeconds: -1 })).toThrow(/positive/)
    expect(() => cache.cache({ ttlSeconds: 10, graceBackoffSeconds: Number.NaN })).toThrow(/positive/)
  })
})
