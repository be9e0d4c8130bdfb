/**
 * The storage conformance suite. Every provider runs it unchanged: a provider file only adds a factory.
 *
 *   describeStorageConformance('redis', { create: () => new RedisStorage({ url, prefix: unique() }) })
 *
 * `create()` must return a new, empty storage each time; two storages from one factory must share the
 * backend (same server) but not their entries, which is what `clear()` isolation is checked with.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { CacheRule, StorageProvider } from '../../src/index.js'
import { Cache, LRUEvict, MaxItemsEvict, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { sleep } from '../support/services.js'

export interface ConformanceOptions {
  /** A new, empty storage on the shared backend. */
  create: () => StorageProvider | Promise<StorageProvider>
  /** Runs of the property-based isolation test (fewer for remote backends). Default 100. */
  propertyRuns?: number
}

export const scopes = new ScopeConfig([
  new ScopeLevel('organization', 'orgId', [
    new ScopeLevel('user', 'userId', [new ScopeLevel('session', 'sessionId')]),
  ]),
  new ScopeLevel('region', 'regionId'),
])

/** Characters that structure keys somewhere in some provider, plus quotes, NUL and non-ASCII text. */
export const nastyChar = fc.constantFrom(
  '%',
  '/',
  '=',
  '|',
  '{',
  '}',
  ':',
  '#',
  'm',
  'a',
  '\0',
  '"',
  "'",
  '\\',
  '.',
  '$',
  'é',
  '😀',
  ' ',
)
export const nastyString = fc.string({ unit: nastyChar, maxLength: 6 })

export function describeStorageConformance(name: string, options: ConformanceOptions): void {
  describe(`storage conformance: ${name}`, () => {
    const open: Cache<typeof scopes, StorageProvider>[] = []
    const makeCache = async (rules: CacheRule[] = []) => {
      const cache = new Cache({ scopes, storage: await options.create(), rules })
      open.push(cache)
      return cache
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((c) => c.close()))
    })

    it('reads a miss as undefined, then returns what was set, and overwrites', async () => {
      const cache = await makeCache()
      expect(await cache.get('k')).toBeUndefined()
      await cache.set('k', { a: 1 })
      expect(await cache.get('k')).toEqual({ a: 1 })
      await cache.set('k', 'second')
      expect(await cache.get('k')).toBe('second')
      const stats = await cache.stats()
      expect(stats).toMatchObject({
        hits: 2,
        misses: 1,
        sets: 2,
        totalKeys: 1,
        storageType: cache.storage.storageType,
      })
    })

    it('round-trips values with their types', async () => {
      const cache = await makeCache()
      const value = {
        date: new Date('2024-01-02T03:04:05.678Z'),
        map: new Map<string, unknown>([
          ['a', 1],
          ['b', [1, 2]],
        ]),
        set: new Set([1, 'two']),
        big: 12345678901234567890n,
        bytes: new Uint8Array([0, 1, 255]),
        nested: { deep: { list: [1, 'x', null, true] } },
        missing: undefined,
        unicode: 'héllo 😀 \0',
      }
      await cache.set('typed', value)
      const back = (await cache.get<typeof value>('typed'))!
      expect(back.date).toBeInstanceOf(Date)
      expect(back.date.getTime()).toBe(value.date.getTime())
      expect(back.map).toBeInstanceOf(Map)
      expect([...back.map]).toEqual([...value.map])
      expect(back.set).toBeInstanceOf(Set)
      expect([...back.set]).toEqual([...value.set])
      expect(back.big).toBe(value.big)
      expect([...back.bytes]).toEqual([0, 1, 255])
      expect(back.nested).toEqual(value.nested)
      expect('missing' in back).toBe(true)
      expect(back.unicode).toBe(value.unicode)
      for (const scalar of [0, -1.5, '', 'text', true, false, null]) {
        await cache.set('scalar', scalar)
        expect(await cache.get('scalar')).toEqual(scalar)
      }
    })

    it('stores null and undefined as real entries (hits, not misses)', async () => {
      const cache = await makeCache()
      await cache.set('nothing', undefined)
      await cache.set('null', null)
      expect(await cache.get('nothing')).toBeUndefined()
      expect(await cache.get('null')).toBeNull()
      expect(await cache.stats()).toMatchObject({ hits: 2, misses: 0, totalKeys: 2 })
    })

    it('evict answers whether it removed a live entry', async () => {
      const cache = await makeCache()
      await cache.set('k', 1, { scope: 'user', orgId: 'o', userId: 'u' })
      expect(await cache.evict('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe(true)
      expect(await cache.evict('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe(false)
      expect(await cache.get('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBeUndefined()
      expect((await cache.stats()).evictionsByReason.explicit).toBe(1)
    })

    it('never returns an expired entry and does not count it', async () => {
      const cache = await makeCache()
      await cache.set('short', 'v', { ttlSeconds: 0.15 })
      await cache.set('long', 'v', { ttlSeconds: 60 })
      await cache.set('forever', 'v')
      expect(await cache.get('short')).toBe('v')
      const deadline = Date.now() + 150
      // Poll across the expiry instant: before it the value may be returned, after it never.
      while (Date.now() < deadline + 100) {
        const before = Date.now()
        const value = await cache.get('short')
        if (before >= deadline) expect(value).toBeUndefined()
        await sleep(5)
      }
      expect(await cache.get('short')).toBeUndefined()
      expect(await cache.get('long')).toBe('v')
      expect(await cache.get('forever')).toBe('v')
      expect((await cache.stats()).totalKeys).toBe(2)
    })

    it('a write resets the TTL and a write without TTL removes it', async () => {
      const cache = await makeCache()
      await cache.set('k', 1, { ttlSeconds: 0.1 })
      await cache.set('k', 2)
      await sleep(150)
      expect(await cache.get('k')).toBe(2)
      await cache.set('k', 3, { ttlSeconds: 0.1 })
      await sleep(150)
      expect(await cache.get('k')).toBeUndefined()
    })

    it('evictByScope removes the scope and its descendants, counts them, and keeps the rest', async () => {
      const cache = await makeCache()
      const o1 = { orgId: 'o1' }
      await cache.set('org-level', 1, { scope: 'organization', ...o1 })
      await cache.set('a', 1, { scope: 'user', ...o1, userId: 'u1' })
      await cache.set('b', 1, { scope: 'user', ...o1, userId: 'u1' })
      await cache.set('c', 1, { scope: 'session', ...o1, userId: 'u1', sessionId: 's1' })
      await cache.set('a', 1, { scope: 'user', ...o1, userId: 'u2' })
      await cache.set('a', 1, { scope: 'user', orgId: 'o2', userId: 'u1' })
      await cache.set('a', 1, { scope: 'region', regionId: 'eu' })
      await cache.set('g', 1)
      expect(await cache.evictByScope('user', { ...o1, userId: 'u1' })).toBe(3)
      expect(await cache.get('a', { scope: 'user', ...o1, userId: 'u1' })).toBeUndefined()
      expect(await cache.get('c', { scope: 'session', ...o1, userId: 'u1', sessionId: 's1' })).toBeUndefined()
      expect(await cache.get('a', { scope: 'user', ...o1, userId: 'u2' })).toBe(1)
      expect(await cache.get('a', { scope: 'user', orgId: 'o2', userId: 'u1' })).toBe(1)
      expect(await cache.evictByScope('organization', o1)).toBe(2)
      expect(await cache.evictByScope('organization', o1)).toBe(0)
      expect(await cache.get('a', { scope: 'region', regionId: 'eu' })).toBe(1)
      expect(await cache.get('g')).toBe(1)
      expect((await cache.stats()).totalKeys).toBe(3)
      expect(await cache.evictByScope('global')).toBe(3)
      expect((await cache.stats()).totalKeys).toBe(0)
      expect((await cache.stats()).evictionsByReason.scope).toBe(8)
    })

    it('clear() removes only this cache’s entries, not another cache’s on the same backend', async () => {
      const mine = await makeCache()
      const theirs = await makeCache()
      await mine.set('k', 'mine', { scope: 'user', orgId: 'o', userId: 'u' })
      await theirs.set('k', 'theirs', { scope: 'user', orgId: 'o', userId: 'u' })
      expect(await mine.clear()).toBe(1)
      expect(await mine.get('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBeUndefined()
      expect(await theirs.get('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe('theirs')
      expect((await theirs.stats()).totalKeys).toBe(1)
    })

    it('keeps tenants apart whatever characters their ids and keys contain', async () => {
      const cache = await makeCache()
      const cases: [string, string, string][] = [
        ['a:b', 'c', 'k'],
        ['a', 'b:c', 'k'],
        ['a', 'a:b', 'k'],
        ['a=b/', 'c', 'k'],
        ['a', 'b', 'c|k'],
        ['a|', 'b', 'k'],
        ['{x}', 'y', 'k'],
        ['', '', ''],
        ['%3A', '', 'k'],
        [':', '', 'k'],
      ]
      for (const [orgId, userId, key] of cases)
        await cache.set(key, `${orgId}/${userId}/${key}`, { scope: 'user', orgId, userId })
      for (const [orgId, userId, key] of cases) {
        expect(await cache.get(key, { scope: 'user', orgId, userId })).toBe(`${orgId}/${userId}/${key}`)
      }
      expect(await cache.evictByScope('organization', { orgId: 'a' })).toBe(3)
      expect(await cache.get('k', { scope: 'user', orgId: 'a:b', userId: 'c' })).toBe('a:b/c/k')
      expect(await cache.get('k', { scope: 'user', orgId: 'a|', userId: 'b' })).toBe('a|/b/k')
    })

    it('property: distinct (scope, params, key) never share an entry; evicting one tenant spares others', async () => {
      const cache = await makeCache()
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.tuple(nastyString, nastyString, nastyString), {
            minLength: 2,
            maxLength: 6,
            selector: (t) => JSON.stringify(t),
          }),
          async (triples) => {
            await cache.clear()
            for (const [i, [orgId, userId, key]] of triples.entries())
              await cache.set(key, i, { scope: 'user', orgId, userId })
            for (const [i, [orgId, userId, key]] of triples.entries()) {
              expect(await cache.get(key, { scope: 'user', orgId, userId })).toBe(i)
            }
            const [victimOrg] = triples[0]!
            const removed = await cache.evictByScope('organization', { orgId: victimOrg })
            expect(removed).toBe(triples.filter(([o]) => o === victimOrg).length)
            for (const [i, [orgId, userId, key]] of triples.entries()) {
              expect(await cache.get(key, { scope: 'user', orgId, userId })).toBe(
                orgId === victimOrg ? undefined : i,
              )
            }
          },
        ),
        { numRuns: options.propertyRuns ?? 100 },
      )
    })

    it('direct keys and memoized calls never collide, even with # keys', async () => {
      const cache = await makeCache()
      let calls = 0
      const load = cache.cache({ namespace: 'load' })(async (id: string) => {
        calls++
        return `loaded ${id}`
      })
      await cache.set('#m:load:["x"]', 'direct')
      await cache.set('##m:load:["x"]', 'direct2')
      expect(await load('x')).toBe('loaded x')
      expect(await load('x')).toBe('loaded x')
      expect(calls).toBe(1)
      expect(await cache.get('#m:load:["x"]')).toBe('direct')
      expect(await cache.get('##m:load:["x"]')).toBe('direct2')
    })

    it('memoizes scoped async functions, once per scope, and evicts them by scope', async () => {
      const cache = await makeCache()
      const calls: string[] = []
      const getUser = cache.cache({ scope: 'user', ttlSeconds: 60 })(async function getUser(args: {
        orgId: string
        userId: string
      }) {
        calls.push(`${args.orgId}/${args.userId}`)
        return { id: args.userId, org: args.orgId }
      })
      const results = await Promise.all(
        Array.from({ length: 20 }, () => getUser({ orgId: 'o1', userId: 'u1' })),
      )
      expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1)
      await getUser({ orgId: 'o2', userId: 'u1' })
      await getUser({ orgId: 'o1', userId: 'u1' })
      expect(calls).toEqual(['o1/u1', 'o2/u1'])
      expect(await cache.evictByScope('organization', { orgId: 'o1' })).toBe(1)
      await getUser({ orgId: 'o1', userId: 'u1' })
      await getUser({ orgId: 'o2', userId: 'u1' })
      expect(calls).toEqual(['o1/u1', 'o2/u1', 'o1/u1'])
    })

    it('LRUEvict keeps at most maxItems, evicting the least recently used', async () => {
      const cache = await makeCache([new LRUEvict({ maxItems: 3 })])
      for (const k of ['a', 'b', 'c']) await cache.set(k, k)
      expect(await cache.get('a')).toBe('a')
      await cache.set('d', 'd')
      expect(await cache.get('b')).toBeUndefined()
      expect(await cache.get('a')).toBe('a')
      await cache.set('c', 'c2') // a write is a use too
      await cache.set('e', 'e')
      expect(await cache.get('d')).toBeUndefined()
      for (const k of ['a', 'c', 'e']) expect(await cache.get(k)).toBeDefined()
      const stats = await cache.stats()
      expect(stats.totalKeys).toBe(3)
      expect(stats.evictionsByReason.lru).toBe(2)
    })

    it('MaxItemsEvict evicts the oldest-inserted first; reads and overwrites keep the order', async () => {
      const cache = await makeCache([new MaxItemsEvict({ maxItems: 3 })])
      for (const k of ['a', 'b', 'c']) await cache.set(k, k)
      await cache.get('a')
      await cache.set('a', 'a2')
      await cache.set('d', 'd')
      expect(await cache.get('a')).toBeUndefined()
      for (const k of ['b', 'c', 'd']) expect(await cache.get(k)).toBeDefined()
      const stats = await cache.stats()
      expect(stats.totalKeys).toBe(3)
      expect(stats.evictionsByReason.maxItems).toBe(1)
    })

    it('per-scope quotas bound each user separately; one noisy user cannot evict another', async () => {
      const cache = await makeCache([new LRUEvict({ maxItems: 2, per: 'user' })])
      const u1 = { scope: 'user', orgId: 'o', userId: 'u1' } as const
      const u2 = { scope: 'user', orgId: 'o', userId: 'u2' } as const
      await cache.set('x', 1, u2)
      await cache.set('y', 1, u2)
      for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i, u1)
      await cache.set('s', 1, { scope: 'session', orgId: 'o', userId: 'u1', sessionId: 's' }) // counts for u1
      await cache.set('org', 1, { scope: 'organization', orgId: 'o' }) // not under a user: unbounded
      await cache.set('g', 1)
      expect(await cache.get('x', u2)).toBe(1)
      expect(await cache.get('y', u2)).toBe(1)
      expect(await cache.get('k9', u1)).toBe(9)
      expect(await cache.get('k8', u1)).toBeUndefined()
      expect(await cache.get('s', { scope: 'session', orgId: 'o', userId: 'u1', sessionId: 's' })).toBe(1)
      const stats = await cache.stats()
      expect(stats.totalKeys).toBe(6)
      expect(stats.evictionsByReason.lru).toBe(9)
    })

    it('two bounds compose: each holds after every write', async () => {
      const cache = await makeCache([
        new LRUEvict({ maxItems: 5 }),
        new MaxItemsEvict({ maxItems: 2, per: 'organization' }),
      ])
      for (let i = 0; i < 4; i++) await cache.set(`k${i}`, i, { scope: 'organization', orgId: 'o1' })
      for (let i = 0; i < 4; i++) await cache.set(`g${i}`, i)
      expect(await cache.get('k3', { scope: 'organization', orgId: 'o1' })).toBe(3)
      expect(await cache.get('k1', { scope: 'organization', orgId: 'o1' })).toBeUndefined()
      const stats = await cache.stats()
      expect(stats.totalKeys).toBe(5)
      expect(stats.evictionsByReason.maxItems).toBe(2)
      expect(stats.evictionsByReason.lru).toBe(1)
    })

    it('evicting a scope frees its places in the bounds', async () => {
      const cache = await makeCache([new LRUEvict({ maxItems: 3 })])
      for (const k of ['a', 'b', 'c']) await cache.set(k, 1, { scope: 'user', orgId: 'o', userId: 'u' })
      expect(await cache.evictByScope('user', { orgId: 'o', userId: 'u' })).toBe(3)
      for (const k of ['x', 'y', 'z']) await cache.set(k, 1)
      expect((await cache.stats()).evictionsByReason.lru).toBe(0)
      expect((await cache.stats()).totalKeys).toBe(3)
    })

    it('close() resolves and later operations reject with a CacheError', async () => {
      const cache = await makeCache()
      await cache.set('k', 1)
      await cache.close()
      await expect(cache.get('k')).rejects.toMatchObject({ code: 'ERR_CACHEADO_CLOSED' })
      await cache.close()
    })
  })
}
