/**
 * `cache.getOrSet` on every backend (memory, Redis, Cluster, FerretDB, with and without a local tier):
 * the value is an ordinary entry, the factory context decides TTL and storing, concurrent calls share
 * one run (across caches sharing a storage with `lock`), rejections are passed on and not stored, a
 * getOrSet racing evictByScope/clear never stores a value computed before it (60 runs), and hostile
 * input is refused with a typed error and stores nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, InvalidArgumentError } from '../../src/index.js'
import { sleep, uniqueName } from '../support/services.js'
import type { TestCache } from './backends.js'
import { backends } from './backends.js'

const RUNS = 60
const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const

const open: TestCache[] = []
afterEach(async () => {
  for (const cache of open.splice(0)) {
    await cache.clear().catch(() => undefined)
    await cache.close()
  }
})

describe.each(backends())('getOrSet on $name', (backend) => {
  const make = async (prefix = uniqueName('getorset')) => {
    const cache = await backend.make(prefix)
    open.push(cache)
    return cache
  }

  it('answers the entry, or the factory’s result stored as an ordinary entry of that scope', async () => {
    const cache = await make()
    let runs = 0
    const factory = async () => ({ plan: 'pro', run: ++runs })
    expect(await cache.getOrSet('settings', factory, { ...u1, ttlSeconds: 60 })).toEqual({
      plan: 'pro',
      run: 1,
    })
    expect(await cache.getOrSet('settings', factory, { ...u1, ttlSeconds: 60 })).toEqual({
      plan: 'pro',
      run: 1,
    })
    expect(await cache.get('settings', u1)).toEqual({ plan: 'pro', run: 1 })
    expect(await cache.get('settings')).toBeUndefined() // another scope
    expect(await cache.evictByScope('user', u1)).toBe(1)
    expect(await cache.getOrSet('settings', factory, u1)).toEqual({ plan: 'pro', run: 2 })
  })

  it('works inline in a handler on every request (nothing registered per call)', async () => {
    const cache = await make()
    const handler = (id: string) => cache.getOrSet(`user:${id}`, async () => ({ id }), { ttlSeconds: 60 })
    for (let request = 0; request < 5; request++) expect(await handler('a')).toEqual({ id: 'a' })
  })

  it('N concurrent calls run the factory once; a rejection reaches all of them and is not stored', async () => {
    const cache = await make()
    let runs = 0
    const slow = async () => {
      runs++
      await sleep(30)
      return runs
    }
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => cache.getOrSet('k', slow, { ttlSeconds: 60 })),
    )
    expect(new Set(answers)).toEqual(new Set([1]))
    expect(runs).toBe(1)
    const failing = async () => {
      runs++
      await sleep(10)
      throw new Error('backend down')
    }
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrSet('f', failing)))
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    expect(runs).toBe(2)
    expect(await cache.get('f')).toBeUndefined()
  })

  it('ctx.setTtl, ctx.skip and ctx.setTags decide how the result is stored', async () => {
    const cache = await make()
    expect(await cache.getOrSet('short', (ctx) => (ctx.setTtl(0.2), 'v'), { ttlSeconds: 60 })).toBe('v')
    expect(await cache.getOrSet('skipped', (ctx) => (ctx.skip(), 'partial'))).toBe('partial')
    expect(await cache.get('skipped')).toBeUndefined()
    expect(await cache.getOrSet('tagged', (ctx) => (ctx.setTags(['plan:pro']), 't'))).toBe('t')
    expect(await cache.get('tagged')).toBe('t')
    await sleep(400)
    expect(await cache.get('short')).toBeUndefined()
  })

  it('hostile input: a bad TTL from ctx.setTtl or the options rejects with a typed error and stores nothing', async () => {
    const cache = await make()
    for (const ttl of [0, -1, Number.NaN, Infinity, 1e12]) {
      await expect(cache.getOrSet('bad', (ctx) => (ctx.setTtl(ttl), 'v'))).rejects.toThrow(
        InvalidArgumentError,
      )
    }
    await expect(cache.getOrSet('bad', (ctx) => (ctx.setTags([42 as never]), 'v'))).rejects.toThrow(
      InvalidArgumentError,
    )
    await expect(cache.getOrSet('bad', () => 'v', { ttlSeconds: -5 })).rejects.toThrow(InvalidArgumentError)
    await expect(
      cache.getOrSet('bad', () => 'v', { ttlSeconds: 5, refreshAheadSeconds: 10 }),
    ).rejects.toThrow(/less than ttlSeconds/)
    await expect(cache.getOrSet('bad', () => 'v', { tags: 'plan' as never })).rejects.toThrow(
      InvalidArgumentError,
    )
    await expect(cache.getOrSet('bad', 'v' as never)).rejects.toThrow(/factory must be a function/)
    await expect(cache.getOrSet('bad', () => 'v', { scope: 'user' } as never)).rejects.toThrow(/userId|orgId/)
    expect(await cache.get('bad')).toBeUndefined()
  })

  it(`a getOrSet racing evictByScope or clear never stores a value computed before it (${RUNS} runs)`, async () => {
    const prefix = uniqueName('gos-race')
    const cache = await make(prefix)
    const other = backend.shared ? await make(prefix) : cache
    let messages = 0
    cache.on('busMessage', () => messages++)
    let epoch = 0
    for (let run = 0; run < RUNS; run++) {
      const pending = cache.getOrSet(
        'race',
        async () => {
          const started = epoch
          await sleep(Math.random() * 8)
          return started
        },
        { ...u1, ttlSeconds: 60 },
      )
      await sleep(Math.random() * 6)
      epoch++
      const evictor = run % 4 < 2 ? cache : other
      const heard = messages
      if (run % 2 === 0) await evictor.evictByScope('organization', { orgId: 'o1' })
      else await evictor.clear()
      await pending
      if (evictor !== cache && backend.local) {
        const end = Date.now() + 1000
        while (messages === heard && Date.now() < end) await sleep(5)
      }
      const stored = await cache.get<number>('race', u1)
      if (stored !== undefined) expect(stored).toBeGreaterThanOrEqual(epoch)
    }
  })

  it.skipIf(!backend.shared)(
    'with lock, caches sharing the storage run the factory once between them',
    async () => {
      const prefix = uniqueName('gos-lock')
      const caches = [await make(prefix), await make(prefix), await make(prefix)]
      let runs = 0
      const factory = async () => {
        runs++
        await sleep(100)
        return 'shared'
      }
      const answers = await Promise.all(
        caches.flatMap((cache) =>
          [1, 2].map(() => cache.getOrSet('locked', factory, { ttlSeconds: 60, lock: true })),
        ),
      )
      expect(answers.every((a) => a === 'shared')).toBe(true)
      expect(runs).toBe(1)
    },
  )
})

describe('getOrSetSync', () => {
  it('answers synchronously over the in-memory storage, with the factory context', () => {
    const cache = new Cache()
    let runs = 0
    expect(cache.getOrSetSync('k', () => ++runs, { ttlSeconds: 60 })).toBe(1)
    expect(cache.getOrSetSync('k', () => ++runs)).toBe(1)
    expect(cache.getOrSetSync('s', (ctx) => (ctx.skip(), 'x'))).toBe('x')
    expect(cache.getSync('s')).toBeUndefined()
    expect(() => cache.getOrSetSync('p', async () => 1)).toThrow(/use await cache.getOrSet/)
    expect(cache.getSync('p')).toBeUndefined()
    expect(() => cache.getOrSetSync('t', (ctx) => (ctx.setTtl(-1), 1))).toThrow(InvalidArgumentError)
    expect(cache.getSync('t')).toBeUndefined()
  })

  it('wrapping one function again under its namespace still fails, and the message points to getOrSet', () => {
    const cache = new Cache()
    cache.cache({ namespace: 'inline' })(() => 1)
    expect(() => cache.cache({ namespace: 'inline' })(() => 1)).toThrow(/getOrSet/)
  })
})
