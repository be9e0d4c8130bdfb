import assert from 'node:assert/strict'
import { Cache } from '../cache.js'
import type { CacheRule } from '../rules/contract.js'
import { LRUEvict } from '../rules/lru.js'
import { MaxItemsEvict } from '../rules/max-items.js'
import { TinyLFUEvict } from '../rules/tinylfu.js'
import { ScopeConfig } from '../scopes/scope-config.js'
import { ScopeLevel } from '../scopes/scope-level.js'
import type { StorageProvider } from '../storage/contract.js'
import type { TestRunner } from './runner.js'
import { nastyString, seededRandom } from './runner.js'

/** The hierarchy the conformance cases use: organization > user > session, and a separate region tree. */
export const conformanceScopes = new ScopeConfig([
  new ScopeLevel('organization', 'orgId', [
    new ScopeLevel('user', 'userId', [new ScopeLevel('session', 'sessionId')]),
  ]),
  new ScopeLevel('region', 'regionId'),
])

/** A cache over a storage of the provider under test. */
export type ConformanceCache = Cache<typeof conformanceScopes, StorageProvider>

/** What the cases get from {@link describeStorageConformance}. */
export interface CaseContext {
  /** A cache over a new, empty storage (closed after the case). */
  readonly makeCache: (rules?: CacheRule[]) => Promise<ConformanceCache>
  /** Runs of the property case. */
  readonly propertyRuns: number
  /** Seed of the property case's pseudo-random inputs. */
  readonly seed: number
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const u = (orgId: string, userId: string) => ({ scope: 'user', orgId, userId }) as const

/** The cases every storage passes through a `Cache`: values, misses, TTLs, scopes, isolation, bounds. */
export function cacheCases(runner: TestRunner, ctx: CaseContext): void {
  const { it } = runner
  const { makeCache } = ctx

  it('reads a miss as undefined, then returns what was set, and overwrites', async () => {
    const cache = await makeCache()
    assert.equal(await cache.get('k'), undefined)
    await cache.set('k', { a: 1 })
    assert.deepEqual(await cache.get('k'), { a: 1 })
    await cache.set('k', 'second')
    assert.equal(await cache.get('k'), 'second')
    const stats = await cache.stats()
    assert.deepEqual([stats.hits, stats.misses, stats.sets, stats.totalKeys], [2, 1, 2, 1])
    assert.equal(stats.storageType, cache.storage.storageType)
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
    assert.ok(back.date instanceof Date, 'a Date reads back as a Date')
    assert.equal(back.date.getTime(), value.date.getTime())
    assert.ok(back.map instanceof Map, 'a Map reads back as a Map')
    assert.deepEqual([...back.map], [...value.map])
    assert.ok(back.set instanceof Set, 'a Set reads back as a Set')
    assert.deepEqual([...back.set], [...value.set])
    assert.equal(back.big, value.big)
    assert.deepEqual([...back.bytes], [0, 1, 255])
    assert.deepEqual(back.nested, value.nested)
    assert.ok('missing' in back, 'a property holding undefined is kept')
    assert.equal(back.unicode, value.unicode)
    for (const scalar of [0, -1.5, '', 'text', true, false, null]) {
      await cache.set('scalar', scalar)
      assert.equal(await cache.get('scalar'), scalar)
    }
  })

  it('stores null and undefined as real entries (hits, not misses)', async () => {
    const cache = await makeCache()
    await cache.set('nothing', undefined)
    await cache.set('null', null)
    assert.equal(await cache.get('nothing'), undefined)
    assert.equal(await cache.get('null'), null)
    const stats = await cache.stats()
    assert.deepEqual([stats.hits, stats.misses, stats.totalKeys], [2, 0, 2])
  })

  it('evict answers whether it removed a live entry', async () => {
    const cache = await makeCache()
    await cache.set('k', 1, u('o', 'u'))
    assert.equal(await cache.evict('k', u('o', 'u')), true)
    assert.equal(await cache.evict('k', u('o', 'u')), false)
    assert.equal(await cache.get('k', u('o', 'u')), undefined)
    assert.equal((await cache.stats()).evictionsByReason.explicit, 1)
  })

  it('never returns an expired entry and does not count it', async () => {
    const cache = await makeCache()
    await cache.set('short', 'v', { ttlSeconds: 0.15 })
    await cache.set('long', 'v', { ttlSeconds: 60 })
    await cache.set('forever', 'v')
    assert.equal(await cache.get('short'), 'v')
    const deadline = Date.now() + 150
    // Poll across the expiry instant: before it the value may be returned, after it never.
    while (Date.now() < deadline + 100) {
      const before = Date.now()
      const value = await cache.get('short')
      if (before >= deadline) assert.equal(value, undefined, 'an expired entry was returned')
      await sleep(5)
    }
    assert.equal(await cache.get('short'), undefined)
    assert.equal(await cache.get('long'), 'v')
    assert.equal(await cache.get('forever'), 'v')
    assert.equal((await cache.stats()).totalKeys, 2)
  })

  it('a write resets the TTL and a write without TTL removes it', async () => {
    const cache = await makeCache()
    await cache.set('k', 1, { ttlSeconds: 0.1 })
    await cache.set('k', 2)
    await sleep(150)
    assert.equal(await cache.get('k'), 2)
    await cache.set('k', 3, { ttlSeconds: 0.1 })
    await sleep(150)
    assert.equal(await cache.get('k'), undefined)
  })

  it('evictByScope removes the scope and its descendants, counts them, and keeps the rest', async () => {
    const cache = await makeCache()
    const o1 = { orgId: 'o1' }
    await cache.set('org-level', 1, { scope: 'organization', ...o1 })
    await cache.set('a', 1, u('o1', 'u1'))
    await cache.set('b', 1, u('o1', 'u1'))
    await cache.set('c', 1, { scope: 'session', ...o1, userId: 'u1', sessionId: 's1' })
    await cache.set('a', 1, u('o1', 'u2'))
    await cache.set('a', 1, u('o2', 'u1'))
    await cache.set('a', 1, { scope: 'region', regionId: 'eu' })
    await cache.set('g', 1)
    assert.equal(await cache.evictByScope('user', { ...o1, userId: 'u1' }), 3)
    assert.equal(await cache.get('a', u('o1', 'u1')), undefined)
    assert.equal(await cache.get('c', { scope: 'session', ...o1, userId: 'u1', sessionId: 's1' }), undefined)
    assert.equal(await cache.get('a', u('o1', 'u2')), 1)
    assert.equal(await cache.get('a', u('o2', 'u1')), 1)
    assert.equal(await cache.evictByScope('organization', o1), 2)
    assert.equal(await cache.evictByScope('organization', o1), 0)
    assert.equal(await cache.get('a', { scope: 'region', regionId: 'eu' }), 1)
    assert.equal(await cache.get('g'), 1)
    assert.equal((await cache.stats()).totalKeys, 3)
    assert.equal(await cache.evictByScope('global'), 3)
    assert.equal((await cache.stats()).totalKeys, 0)
    assert.equal((await cache.stats()).evictionsByReason.scope, 8)
  })

  it('clear() removes only this cache’s entries, not another cache’s on the same backend', async () => {
    const mine = await makeCache()
    const theirs = await makeCache()
    await mine.set('k', 'mine', u('o', 'u'))
    await theirs.set('k', 'theirs', u('o', 'u'))
    assert.equal(await mine.clear(), 1)
    assert.equal(await mine.get('k', u('o', 'u')), undefined)
    assert.equal(await theirs.get('k', u('o', 'u')), 'theirs')
    assert.equal((await theirs.stats()).totalKeys, 1)
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
      ['a\nb', '\u001b[2J', 'k\0'],
    ]
    for (const [orgId, userId, key] of cases)
      await cache.set(key, `${orgId}/${userId}/${key}`, u(orgId, userId))
    for (const [orgId, userId, key] of cases) {
      assert.equal(await cache.get(key, u(orgId, userId)), `${orgId}/${userId}/${key}`)
    }
    assert.equal(await cache.evictByScope('organization', { orgId: 'a' }), 3)
    assert.equal(await cache.get('k', u('a:b', 'c')), 'a:b/c/k')
    assert.equal(await cache.get('k', u('a|', 'b')), 'a|/b/k')
  })

  it('property: distinct (scope, params, key) never share an entry; evicting one tenant spares others', async () => {
    const cache = await makeCache()
    const random = seededRandom(ctx.seed)
    for (let run = 0; run < ctx.propertyRuns; run++) {
      const seen = new Set<string>()
      const triples: [string, string, string][] = []
      const wanted = 2 + Math.floor(random() * 5)
      while (triples.length < wanted) {
        const triple: [string, string, string] = [
          nastyString(random),
          nastyString(random),
          nastyString(random),
        ]
        const id = JSON.stringify(triple)
        if (!seen.has(id)) {
          seen.add(id)
          triples.push(triple)
        }
      }
      const replay = `seed ${ctx.seed}, run ${run}: ${JSON.stringify(triples)}`
      await cache.clear()
      for (const [i, [orgId, userId, key]] of triples.entries()) await cache.set(key, i, u(orgId, userId))
      for (const [i, [orgId, userId, key]] of triples.entries()) {
        assert.equal(await cache.get(key, u(orgId, userId)), i, replay)
      }
      const [victimOrg] = triples[0]!
      const removed = await cache.evictByScope('organization', { orgId: victimOrg })
      assert.equal(removed, triples.filter(([o]) => o === victimOrg).length, replay)
      for (const [i, [orgId, userId, key]] of triples.entries()) {
        assert.equal(await cache.get(key, u(orgId, userId)), orgId === victimOrg ? undefined : i, replay)
      }
    }
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
    assert.equal(await load('x'), 'loaded x')
    assert.equal(await load('x'), 'loaded x')
    assert.equal(calls, 1)
    assert.equal(await cache.get('#m:load:["x"]'), 'direct')
    assert.equal(await cache.get('##m:load:["x"]'), 'direct2')
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
    assert.equal(new Set(results.map((r) => JSON.stringify(r))).size, 1)
    await getUser({ orgId: 'o2', userId: 'u1' })
    await getUser({ orgId: 'o1', userId: 'u1' })
    assert.deepEqual(calls, ['o1/u1', 'o2/u1'])
    assert.equal(await cache.evictByScope('organization', { orgId: 'o1' }), 1)
    await getUser({ orgId: 'o1', userId: 'u1' })
    await getUser({ orgId: 'o2', userId: 'u1' })
    assert.deepEqual(calls, ['o1/u1', 'o2/u1', 'o1/u1'])
  })

  boundCases(runner, ctx)
  fairnessCases(runner, ctx)

  it('close() resolves and later operations reject with a CacheError', async () => {
    const cache = await makeCache()
    await cache.set('k', 1)
    await cache.close()
    await assert.rejects(cache.get('k'), { code: 'ERR_CACHEADO_CLOSED' })
    await cache.close()
  })
}

/** The bound cases; a storage that does not enforce bounds (`supportsBounds: false`) must refuse them. */
function boundCases({ it }: TestRunner, { makeCache }: CaseContext): void {
  /** A cache with `rules`, or undefined when the storage refuses bounds (as it must if it lacks them). */
  const bounded = async (rules: CacheRule[]): Promise<ConformanceCache | undefined> => {
    const probe = await makeCache()
    if (probe.storage.supportsBounds) return makeCache(rules)
    await assert.rejects(makeCache(rules), { code: 'ERR_CACHEADO_CONFIGURATION' })
    return undefined
  }

  it('LRUEvict keeps at most maxItems, evicting the least recently used', async () => {
    const cache = await bounded([new LRUEvict({ maxItems: 3 })])
    if (cache === undefined) return
    for (const k of ['a', 'b', 'c']) await cache.set(k, k)
    assert.equal(await cache.get('a'), 'a')
    await cache.set('d', 'd')
    assert.equal(await cache.get('b'), undefined)
    assert.equal(await cache.get('a'), 'a')
    await cache.set('c', 'c2') // a write is a use too
    await cache.set('e', 'e')
    assert.equal(await cache.get('d'), undefined)
    for (const k of ['a', 'c', 'e']) assert.notEqual(await cache.get(k), undefined, k)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 3)
    assert.equal(stats.evictionsByReason.lru, 2)
  })

  it('TinyLFUEvict holds its bound where the storage lists the tinylfu order, else is refused', async () => {
    const probe = await makeCache()
    const orders = probe.storage.supportsBounds ? (probe.storage.boundOrders ?? ['lru', 'insertion']) : []
    if (!orders.includes('tinylfu')) {
      await assert.rejects(makeCache([new TinyLFUEvict({ maxItems: 3 })]), {
        code: 'ERR_CACHEADO_CONFIGURATION',
      })
      return
    }
    const cache = await makeCache([new TinyLFUEvict({ maxItems: 3, per: 'user' })])
    for (let i = 0; i < 20; i++) {
      await cache.set(`k${i}`, i, u('o', 'u1'))
      assert.equal(await cache.get(`k${i}`, u('o', 'u1')), i) // the newest entry is always kept
      const total = (await cache.stats()).totalKeys
      assert.ok(total !== undefined && total <= 3, `${String(total)} entries, bound 3`)
    }
    await cache.set('x', 1, u('o', 'u2'))
    assert.equal(await cache.get('x', u('o', 'u2')), 1)
    assert.equal((await cache.stats()).evictionsByReason.maxItems, 17)
  })

  it('MaxItemsEvict evicts the oldest-inserted first; reads and overwrites keep the order', async () => {
    const cache = await bounded([new MaxItemsEvict({ maxItems: 3 })])
    if (cache === undefined) return
    for (const k of ['a', 'b', 'c']) await cache.set(k, k)
    await cache.get('a')
    await cache.set('a', 'a2')
    await cache.set('d', 'd')
    assert.equal(await cache.get('a'), undefined)
    for (const k of ['b', 'c', 'd']) assert.notEqual(await cache.get(k), undefined, k)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 3)
    assert.equal(stats.evictionsByReason.maxItems, 1)
  })

  it('per-scope quotas bound each user separately; one noisy user cannot evict another', async () => {
    const cache = await bounded([new LRUEvict({ maxItems: 2, per: 'user' })])
    if (cache === undefined) return
    await cache.set('x', 1, u('o', 'u2'))
    await cache.set('y', 1, u('o', 'u2'))
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i, u('o', 'u1'))
    const session = { scope: 'session', orgId: 'o', userId: 'u1', sessionId: 's' } as const
    await cache.set('s', 1, session) // counts for u1
    await cache.set('org', 1, { scope: 'organization', orgId: 'o' }) // not under a user: unbounded
    await cache.set('g', 1)
    assert.equal(await cache.get('x', u('o', 'u2')), 1)
    assert.equal(await cache.get('y', u('o', 'u2')), 1)
    assert.equal(await cache.get('k9', u('o', 'u1')), 9)
    assert.equal(await cache.get('k8', u('o', 'u1')), undefined)
    assert.equal(await cache.get('s', session), 1)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 6)
    assert.equal(stats.evictionsByReason.lru, 9)
  })

  it('two bounds compose: each holds after every write', async () => {
    const cache = await bounded([
      new LRUEvict({ maxItems: 5 }),
      new MaxItemsEvict({ maxItems: 2, per: 'organization' }),
    ])
    if (cache === undefined) return
    const org = { scope: 'organization', orgId: 'o1' } as const
    for (let i = 0; i < 4; i++) await cache.set(`k${i}`, i, org)
    for (let i = 0; i < 4; i++) await cache.set(`g${i}`, i)
    assert.equal(await cache.get('k3', org), 3)
    assert.equal(await cache.get('k1', org), undefined)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 5)
    assert.equal(stats.evictionsByReason.maxItems, 2)
    assert.equal(stats.evictionsByReason.lru, 1)
  })

  it('evicting a scope frees its places in the bounds', async () => {
    const cache = await bounded([new LRUEvict({ maxItems: 3 })])
    if (cache === undefined) return
    for (const k of ['a', 'b', 'c']) await cache.set(k, 1, u('o', 'u'))
    assert.equal(await cache.evictByScope('user', { orgId: 'o', userId: 'u' }), 3)
    for (const k of ['x', 'y', 'z']) await cache.set(k, 1)
    assert.equal((await cache.stats()).evictionsByReason.lru, 0)
    assert.equal((await cache.stats()).totalKeys, 3)
  })
}

const org = (orgId: string) => ({ scope: 'organization', orgId }) as const

/**
 * Fair share on a cache-wide bound (`fairness: 'per-<level>'`): a storage with `supportsFairness`
 * evicts from the tenant holding the most entries, in its own order; any other storage must refuse the
 * bound at construction with a `ConfigurationError`.
 */
function fairnessCases({ it }: TestRunner, { makeCache }: CaseContext): void {
  it('a fair bound evicts from the tenant holding the most entries where supported, else is refused', async () => {
    const rules = [new LRUEvict({ maxItems: 6, fairness: 'per-organization' })]
    const probe = await makeCache()
    if (probe.storage.supportsFairness !== true) {
      await assert.rejects(makeCache(rules), { code: 'ERR_CACHEADO_CONFIGURATION' })
      return
    }
    const cache = await makeCache(rules)
    for (let i = 0; i < 3; i++) await cache.set(`q${i}`, i, org('quiet'))
    for (let i = 0; i < 20; i++) {
      await cache.set(`n${i}`, i, org('noisy'))
      assert.equal(await cache.get(`n${i}`, org('noisy')), i, 'the entry just written is kept')
    }
    for (let i = 0; i < 3; i++) assert.equal(await cache.get(`q${i}`, org('quiet')), i, `q${i}`)
    // The noisy tenant lost its least recently used entries: it keeps its 3 newest.
    for (let i = 17; i < 20; i++) assert.equal(await cache.get(`n${i}`, org('noisy')), i, `n${i}`)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 6)
    assert.equal(stats.evictionsByReason.lru, 17)
  })
}
