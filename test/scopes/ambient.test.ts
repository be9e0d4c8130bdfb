// The ambient scope (cache.runInScope): calls that name a level take its parameters from the async
// context, fail closed without one, and refuse a differing explicit parameter unless crossScope.
import { EventEmitter, once } from 'node:events'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { DefaultScopeConfig, StorageProvider } from '../../src/index.js'
import { Cache, InvalidArgumentError, ScopeConfig, ScopeError, ScopeLevel } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, sleep, uniqueName } from '../support/services.js'

const acme = { orgId: 'acme' } as const
const user = { scope: 'user' } as const

describe('cache.runInScope', () => {
  it('returns what fn returns, sync or async, and answers currentScope', async () => {
    const cache = new Cache()
    expect(cache.currentScope()).toBeUndefined()
    expect(cache.runInScope(acme, () => 42)).toBe(42)
    await expect(cache.runInScope(acme, async () => cache.currentScope())).resolves.toEqual({ orgId: 'acme' })
    expect(cache.runInScope({ orgId: 7 }, () => cache.currentScope())).toEqual({ orgId: '7' })
    expect(cache.currentScope()).toBeUndefined()
  })

  it('takes omitted parameters from the ambient scope, for every operation and the sync twins', async () => {
    const cache = new Cache()
    await cache.runInScope({ orgId: 'acme', userId: 'alice' }, async () => {
      await cache.set('k', 'alice', user)
      cache.setSync('s', 'org', { scope: 'organization' })
      expect(cache.getSync('k', user)).toBe('alice')
      expect(await cache.get('s', { scope: 'organization' })).toBe('org')
      // the parameters given explicitly and equal to the ambient ones are fine (numbers as strings too)
      expect(await cache.get('k', { scope: 'user', orgId: 'acme', userId: 'alice' })).toBe('alice')
    })
    expect(cache.getSync('k', { scope: 'user', orgId: 'acme', userId: 'alice' })).toBe('alice')
    cache.runInScope({ orgId: 'acme', userId: 'alice' }, () => {
      expect(cache.evictSync('k', user)).toBe(true)
      expect(cache.evictByScopeSync('organization')).toBe(1)
    })
    expect(cache.statsSync().totalKeys).toBe(0)
    await cache.set('g', 1)
    // a call without a level is the global scope inside an ambient scope too
    await cache.runInScope(acme, async () => {
      expect(await cache.get('g')).toBe(1)
      expect(await cache.evictByScope('organization')).toBe(0)
      expect(await cache.evict('g')).toBe(true)
    })
  })

  it('nested calls add deeper levels and cannot change an outer parameter', async () => {
    const cache = new Cache()
    await cache.runInScope(acme, async () => {
      await cache.runInScope({ userId: 'alice' }, async () => {
        await cache.set('cart', ['book'], user)
        expect(cache.currentScope()).toEqual({ orgId: 'acme', userId: 'alice' })
        expect(cache.runInScope({ orgId: 'acme', sessionId: 's1' }, () => cache.currentScope())).toEqual({
          orgId: 'acme',
          userId: 'alice',
          sessionId: 's1',
        })
        expect(() => cache.runInScope({ orgId: 'evil' }, () => 1)).toThrow(ScopeError)
      })
      expect(cache.currentScope()).toEqual({ orgId: 'acme' })
      // the user level needs a userId: the organization alone is not enough
      await expect(cache.get('cart', user)).rejects.toThrow(/userId/)
    })
    expect(cache.getSync('cart', { scope: 'user', orgId: 'acme', userId: 'alice' })).toEqual(['book'])
  })

  it('fails closed: a scoped call without parameters and without an ambient scope is a ScopeError', async () => {
    const cache = new Cache()
    await expect(cache.get('k', user)).rejects.toBeInstanceOf(ScopeError)
    await expect(cache.set('k', 1, user)).rejects.toThrow(/runInScope/)
    expect(() => cache.evictByScopeSync('organization')).toThrow(ScopeError)
    const load = cache.cache({ scope: 'organization', namespace: 'load' })(async () => 'x')
    await expect(load()).rejects.toBeInstanceOf(ScopeError)
    expect(cache.statsSync().totalKeys).toBe(0) // nothing written globally
  })

  it('refuses an explicit parameter that differs from the ambient one, unless crossScope', async () => {
    const cache = new Cache()
    await cache.set('secret', 'beta data', { scope: 'organization', orgId: 'beta' })
    await cache.runInScope(acme, async () => {
      await expect(cache.get('secret', { scope: 'organization', orgId: 'beta' })).rejects.toThrow(
        /crossScope/,
      )
      await expect(cache.set('x', 1, { scope: 'organization', orgId: 'beta' })).rejects.toThrow(ScopeError)
      await expect(cache.evictByScope('organization', { orgId: 'beta' })).rejects.toThrow(ScopeError)
      const admin = { scope: 'organization', orgId: 'beta', crossScope: true } as const
      expect(await cache.get('secret', admin)).toBe('beta data')
      expect(await cache.evictByScope('organization', { orgId: 'beta', crossScope: true })).toBe(1)
      await expect(
        cache.get('x', { scope: 'organization', orgId: 'acme', crossScope: 'yes' } as never),
      ).rejects.toThrow(/crossScope/)
    })
  })

  it('memoized functions and decorators take the ambient scope; a differing argument is refused', async () => {
    const cache = new Cache()
    let calls = 0
    const load = cache.cache<[{ orgId?: string }]>({
      scope: 'organization',
      namespace: 'plan',
      key: () => 'plan',
    })(async (_: { orgId?: string }) => {
      calls++
      return `plan of ${cache.currentScope()!.orgId}`
    })
    const admin = cache.cache({ scope: 'organization', namespace: 'admin', crossScope: true })(
      async (p: { orgId: string }) => `admin read ${p.orgId}`,
    )
    expect(await cache.runInScope(acme, () => load({}))).toBe('plan of acme')
    expect(await cache.runInScope(acme, () => load({ orgId: 'acme' }))).toBe('plan of acme')
    expect(await cache.runInScope({ orgId: 'beta' }, () => load({}))).toBe('plan of beta')
    expect(calls).toBe(2)
    await expect(cache.runInScope(acme, () => load({ orgId: 'beta' }))).rejects.toBeInstanceOf(ScopeError)
    expect(await cache.runInScope(acme, () => admin({ orgId: 'beta' }))).toBe('admin read beta')
    expect(() => cache.cache({ crossScope: 1 as never })).toThrow(/crossScope/)

    class Repo {
      @cache.cache({ scope: 'user', namespace: 'Repo.profile' })
      profile(): string {
        return `profile of ${cache.currentScope()!.userId}`
      }
    }
    const repo = new Repo()
    expect(cache.runInScope({ orgId: 'acme', userId: 'u1' }, () => repo.profile())).toBe('profile of u1')
    expect(() => repo.profile()).toThrow(ScopeError)
  })

  it('checks its arguments', () => {
    const cache = new Cache()
    expect(() => cache.runInScope({ teamId: 'x' } as never, () => 1)).toThrow(
      /teamId.*orgId, userId, sessionId/,
    )
    expect(() => cache.runInScope(null as never, () => 1)).toThrow(ScopeError)
    expect(() => cache.runInScope(['a'] as never, () => 1)).toThrow(ScopeError)
    expect(() => cache.runInScope({ orgId: Number.NaN }, () => 1)).toThrow(/finite number/)
    expect(() => cache.runInScope({ orgId: {} as never }, () => 1)).toThrow(ScopeError)
    expect(() => cache.runInScope(acme, 'fn' as never)).toThrow(InvalidArgumentError)
    expect(cache.runInScope({ orgId: 'a', userId: undefined }, () => cache.currentScope())).toEqual({
      orgId: 'a',
    })
    // a parameter named like an Object.prototype property reads nothing inherited
    const odd = new Cache({ scopes: new ScopeConfig([new ScopeLevel('t', 'constructor')]) })
    expect(() => odd.getSync('k', { scope: 't' } as never)).toThrow(ScopeError)
  })

  it('is shared by every cache of the process: each reads the parameters it knows', async () => {
    const a = new Cache()
    const b = new Cache({ scopes: new ScopeConfig([new ScopeLevel('organization', 'orgId')]) })
    await a.runInScope({ orgId: 'acme', userId: 'u' }, async () => {
      await b.set('k', 1, { scope: 'organization' })
      expect(b.currentScope()).toEqual({ orgId: 'acme', userId: 'u' })
    })
    expect(b.getSync('k', { scope: 'organization', orgId: 'acme' })).toBe(1)
  })

  it('survives awaits, timers, event emitters, streams and single-flight joins', async () => {
    const cache = new Cache()
    const seen: string[] = []
    const record = (where: string) => seen.push(`${where}:${cache.currentScope()?.orgId}`)
    const emitter = new EventEmitter()
    let calls = 0
    const slow = cache.cache({ scope: 'organization', namespace: 'slow' })(async () => {
      calls++
      await sleep(20)
      return cache.currentScope()!.orgId
    })
    const run = (orgId: string) =>
      cache.runInScope({ orgId }, async () => {
        await sleep(1)
        record('await')
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            record('timer')
            resolve()
          }, 2),
        )
        await new Promise<void>((resolve) => setImmediate(resolve))
        record('immediate')
        const heard = once(emitter, `tick-${orgId}`)
        emitter.once(`tick-${orgId}`, () => record('listener'))
        setTimeout(() => emitter.emit(`tick-${orgId}`), 1)
        await heard
        record('emitter')
        const chunks: string[] = []
        await pipeline(
          Readable.from(['a', 'b']),
          new Transform({
            transform(chunk, _encoding, done) {
              chunks.push(`${String(chunk)}:${cache.currentScope()?.orgId}`)
              done(null, chunk)
            },
          }),
          async (source: AsyncIterable<unknown>) => {
            for await (const _ of source) record('stream')
          },
        )
        record('piped')
        // two joins of one flight per tenant: each tenant's callers share its own flight only
        const [x, y] = await Promise.all([slow(), slow()])
        return { x, y, chunks }
      })
    const [acmeResult, betaResult] = await Promise.all([run('acme'), run('beta')])
    expect(acmeResult).toEqual({ x: 'acme', y: 'acme', chunks: ['a:acme', 'b:acme'] })
    expect(betaResult).toEqual({ x: 'beta', y: 'beta', chunks: ['a:beta', 'b:beta'] })
    expect(calls).toBe(2)
    expect(seen.filter((s) => s.endsWith('acme'))).toHaveLength(seen.length / 2)
    expect(seen.filter((s) => !s.endsWith(':acme') && !s.endsWith(':beta'))).toEqual([])
    expect(seen.filter((s) => s.startsWith('listener'))).toEqual(['listener:acme', 'listener:beta'])
  })
})

/**
 * Thousands of requests of many tenants, interleaved with random delays: each request runs in its
 * tenant's ambient scope, writes and reads its tenant's data through get/set and a memoized function, and
 * every answer must be its own tenant's.
 */
async function interleave(
  cache: Cache<DefaultScopeConfig, StorageProvider>,
  requests: number,
  tenants: number,
): Promise<number> {
  const delay = () => sleep(Math.floor(Math.random() * 3))
  const profile = cache.cache({ scope: 'user', namespace: uniqueName('profile'), ttlSeconds: 60 })(
    async () => {
      await delay()
      const { orgId, userId } = cache.currentScope()!
      return { orgId, userId }
    },
  )
  let checked = 0
  const request = async (i: number) => {
    const orgId = `org${i % tenants}`
    const userId = `user${i % 7}`
    return cache.runInScope({ orgId }, async () => {
      await delay()
      await cache.set('report', { orgId }, { scope: 'organization', ttlSeconds: 60 })
      await delay()
      return cache.runInScope({ userId }, async () => {
        const [report, own] = await Promise.all([
          cache.get<{ orgId: string }>('report', { scope: 'organization' }),
          profile(),
        ])
        await delay()
        if (report?.orgId !== orgId)
          throw new Error(`request ${i} of ${orgId} got the report of ${report?.orgId}`)
        if (own.orgId !== orgId || own.userId !== userId) {
          throw new Error(`request ${i} of ${orgId}/${userId} got the profile of ${own.orgId}/${own.userId}`)
        }
        checked++
      })
    })
  }
  await Promise.all(Array.from({ length: requests }, (_, i) => request(i)))
  return checked
}

describe('thousands of concurrent requests of many tenants', () => {
  it('never answer another tenant’s data (memory)', async () => {
    for (let round = 0; round < 5; round++) {
      expect(await interleave(new Cache(), 2000, 37)).toBe(2000)
    }
  })

  const caches: Cache<DefaultScopeConfig, RedisStorage>[] = []
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()))
  })
  it.skipIf(!redisUrl)('never answer another tenant’s data (Redis with the local tier)', async () => {
    const cache = new Cache({
      // a correctness test on a shared machine: thousands of commands in flight may take over a second
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('ambient'), commandTimeoutMs: 15_000 }),
      local: { maxItems: 500 },
    })
    caches.push(cache)
    for (let round = 0; round < 3; round++) expect(await interleave(cache, 2000, 37)).toBe(2000)
  })
})
