import assert from 'node:assert/strict'
import { MAX_BULK_KEYS } from '../bulk-args.js'
import { InvalidArgumentError } from '../errors.js'
import { LRUEvict } from '../rules/lru.js'
import { MaxItemsEvict } from '../rules/max-items.js'
import type { EntryRef, ScopePath, StorageProvider } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { MAX_TTL_SECONDS } from '../ttl.js'
import type { CaseContext } from './cache-cases.js'
import { sleep } from './cache-cases.js'
import type { ProviderCaseContext } from './provider-cases.js'
import type { TestRunner } from './runner.js'
import { NASTY_CHARACTERS } from './runner.js'

const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (orgId: string, userId: string): ScopePath => [...org(orgId), { level: 'user', id: userId }]
const ref = (scope: ScopePath, key: string): EntryRef => ({ scope, key: `k:${key}` })
const u = (orgId: string, userId: string) => ({ scope: 'user', orgId, userId }) as const

/** Keys made of every hostile character, alone and combined, plus a few separators-only keys. */
const hostileKeys = (): string[] => [
  ...NASTY_CHARACTERS.map((c) => `k${c}`),
  NASTY_CHARACTERS.join(''),
  '',
  '|',
  '/',
  '=/|',
  '%2F',
  '{t}',
]

/** Whether `cache.expiresAt` can answer on this storage (it reports expiries). */
const reportsExpiry = (storage: StorageProvider): boolean =>
  storage.getWithExpiry !== undefined || storage.sync?.getWithExpiry !== undefined

/** A storage's answer as plain values (`MISS` per miss), whatever `getManyWithExpiry` answers. */
const values = (entries: readonly unknown[]): unknown[] =>
  entries.map((entry) => (entry === MISS ? MISS : (entry as { value: unknown }).value))

/**
 * Provider-level cases of the optional bulk capabilities (`getMany`, `getManyWithExpiry`, `setMany`,
 * `deleteMany`); each
 * skips when the provider does not offer it.
 */
export function bulkProviderCases(runner: TestRunner, ctx: ProviderCaseContext): void {
  const { it } = runner
  const { open } = ctx

  it('provider (getManyWithExpiry): values and expiries in order, MISS per miss, repeated refs, across tenants', async () => {
    const s = await open()
    if (s.getManyWithExpiry === undefined) return
    assert.deepEqual(await s.getManyWithExpiry([]), [])
    const a = ref(user('o1', 'u1'), 'a')
    const b = ref(user('o2', 'u1'), 'b')
    const c = ref([], 'c')
    const before = Date.now()
    await s.set(a, { v: 1 }, 5_000)
    const after = Date.now()
    await s.set(b, 'two', undefined)
    await s.set(c, null, undefined)
    const missing = ref(user('o1', 'u1'), 'missing')
    const got = await s.getManyWithExpiry([a, missing, b, a, c])
    assert.deepEqual(values(got), [{ v: 1 }, MISS, 'two', { v: 1 }, null])
    const first = got[0] as { expiresAt: number | undefined }
    assert.ok(first.expiresAt !== undefined && first.expiresAt <= after + 5_000, 'expiry reported too late')
    assert.ok(first.expiresAt >= before + 5_000 - 1_000, 'expiry implausibly early')
    // No expiry: `undefined`, or (a tier's copy) an expiry of its own, which is earlier than never.
    const forever = (got[2] as { expiresAt: number | undefined }).expiresAt
    assert.ok(forever === undefined || forever >= before, 'an entry without expiry')
  })

  it('provider (getManyWithExpiry): hostile keys stay apart, expired entries are misses, 2000 refs at once', async () => {
    const s = await open()
    if (s.getManyWithExpiry === undefined) return
    const keys = hostileKeys()
    for (const [i, key] of keys.entries()) await s.set(ref(org(key), key), i, undefined)
    const got = await s.getManyWithExpiry(
      keys.flatMap((key) => [ref(org(key), key), ref(org(`${key}x`), key)]),
    )
    assert.deepEqual(
      values(got),
      keys.flatMap((_, i) => [i, MISS]),
    )
    await s.set(ref(org('t'), 'short'), 1, 50)
    await sleep(120)
    assert.deepEqual(values(await s.getManyWithExpiry([ref(org('t'), 'short')])), [MISS])
    const many = Array.from({ length: 2000 }, (_, i) => ref(user('big', String(i % 7)), String(i)))
    const answer = await s.getManyWithExpiry(many)
    assert.equal(answer.length, 2000)
    assert.ok(answer.every((entry) => entry === MISS))
  })

  it('provider (getMany): the values in order, MISS per miss, repeated refs, hostile keys', async () => {
    const s = await open()
    if (s.getMany === undefined) return
    assert.deepEqual(await s.getMany([]), [])
    const keys = hostileKeys()
    for (const [i, key] of keys.entries()) await s.set(ref(user(key, key), key), i, undefined)
    await s.set(ref([], 'g'), null, undefined)
    const asked = keys.flatMap((key) => [ref(user(key, key), key), ref(user(key, `${key}x`), key)])
    const got = await s.getMany([...asked, ref([], 'g'), ref([], 'g'), ref([], 'none')])
    assert.deepEqual(got, [...keys.flatMap((_, i) => [i, MISS]), null, null, MISS])
    await s.set(ref(org('t'), 'short'), 1, 50)
    await sleep(120)
    assert.deepEqual(await s.getMany([ref(org('t'), 'short')]), [MISS])
    const many = Array.from({ length: 2000 }, (_, i) => ref(user('big', String(i % 7)), String(i)))
    assert.ok((await s.getMany(many)).every((value) => value === MISS))
  })

  it('provider (setMany, deleteMany): later writes of a ref win, TTLs apply, removals report each ref', async () => {
    const s = await open()
    if (s.setMany !== undefined) {
      await s.setMany([])
      const a = ref(user('o', 'u'), 'a')
      await s.setMany([
        { ref: a, value: 1, ttlMs: undefined },
        { ref: ref(org('p'), 'b'), value: 'b', ttlMs: 60_000 },
        { ref: a, value: 2, ttlMs: undefined },
        { ref: ref(org('p'), 'short'), value: 's', ttlMs: 50 },
      ])
      assert.equal(await s.get(a), 2)
      assert.equal(await s.get(ref(org('p'), 'b')), 'b')
      await sleep(120)
      assert.equal(await s.get(ref(org('p'), 'short')), MISS)
      assert.equal(await s.size(), 2)
    }
    if (s.deleteMany !== undefined) {
      await s.set(ref(org('d'), 'x'), 1, undefined)
      assert.deepEqual(await s.deleteMany([]), [])
      assert.deepEqual(await s.deleteMany([ref(org('d'), 'x'), ref(org('d'), 'y')]), [true, false])
      assert.equal(await s.get(ref(org('d'), 'x')), MISS)
    }
  })
}

/**
 * Cases of the facade's bulk operations and inspection through a `Cache`: order, repeats, exact stats,
 * bounds, hostile keys and arguments (one bad key fails the whole call, nothing half-written).
 */
export function bulkCacheCases(runner: TestRunner, ctx: CaseContext): void {
  const { it } = runner
  const { makeCache } = ctx

  it('getMany/setMany/evictMany: order, repeats, misses and exact stats', async () => {
    const cache = await makeCache()
    assert.deepEqual(await cache.getMany([], u('o', 'u')), [])
    await cache.setMany([], u('o', 'u'))
    assert.equal(await cache.evictMany([], u('o', 'u')), 0)
    await cache.setMany(
      [
        { key: 'a', value: { n: 1 } },
        { key: 'b', value: null },
        { key: 'c', value: 'first' },
        { key: 'c', value: 'last' },
      ],
      u('o', 'u'),
    )
    assert.deepEqual(await cache.getMany(['a', 'x', 'b', 'a', 'c'], u('o', 'u')), [
      { n: 1 },
      undefined,
      null,
      { n: 1 },
      'last',
    ])
    assert.deepEqual(await cache.getMany(['a', 'b'], u('o', 'other')), [undefined, undefined])
    assert.equal(await cache.evictMany(['a', 'a', 'x', 'b'], u('o', 'u')), 2)
    assert.deepEqual(await cache.getMany(['a', 'b', 'c'], u('o', 'u')), [undefined, undefined, 'last'])
    const stats = await cache.stats()
    assert.deepEqual(
      [stats.hits, stats.misses, stats.sets, stats.evictionsByReason.explicit, stats.totalKeys],
      [5, 5, 4, 2, 1],
    )
  })

  it('getMany/setMany: hostile keys in two tenants stay apart; 10k keys in one call', async () => {
    const cache = await makeCache()
    const keys = hostileKeys()
    await cache.setMany(
      keys.map((key, i) => ({ key, value: i })),
      u('o|1', 'u/1'),
    )
    await cache.setMany(
      keys.map((key) => ({ key, value: 'other' })),
      u('o', '1/u'),
    )
    assert.deepEqual(
      await cache.getMany(keys, u('o|1', 'u/1')),
      keys.map((_, i) => i),
    )
    assert.deepEqual(
      await cache.getMany(keys, { scope: 'organization', orgId: 'o|1' }),
      keys.map(() => undefined),
    )
    const big = Array.from({ length: MAX_BULK_KEYS }, (_, i) => `key:${i}`)
    await cache.setMany(
      big.slice(0, 500).map((key) => ({ key, value: key })),
      u('big', 'u'),
    )
    const got = await cache.getMany(big, u('big', 'u'))
    assert.equal(got.length, MAX_BULK_KEYS)
    assert.deepEqual(got.slice(498, 502), ['key:498', 'key:499', undefined, undefined])
    assert.equal(await cache.evictMany(big, u('big', 'u')), 500)
  })

  it('bulk arguments: one bad key or entry fails the whole call with nothing written', async () => {
    const cache = await makeCache()
    const rejects = (call: () => Promise<unknown>, pattern: RegExp) =>
      assert.rejects(
        call,
        (error: unknown) => error instanceof InvalidArgumentError && pattern.test(error.message),
      )
    await rejects(() => cache.getMany('a' as unknown as string[]), /keys must be an array/)
    await rejects(() => cache.getMany(['a', 1 as unknown as string]), /keys\[1\] must be a string/)
    await rejects(() => cache.getMany(['a', '\ud800']), /keys\[1\] must be well-formed/)
    await rejects(() => cache.evictMany(new Array<string>(MAX_BULK_KEYS + 1).fill('k')), /at most 10000 keys/)
    const good = { key: 'good', value: 1 }
    await rejects(
      () => cache.setMany([good, { key: 'bad', value: 1, ttlSeconds: -1 }]),
      /entries\[1\]\.ttlSeconds/,
    )
    await rejects(
      () => cache.setMany([good, { key: 'bad', value: 1, ttlSeconds: MAX_TTL_SECONDS + 1 }]),
      /at most/,
    )
    await rejects(
      () => cache.setMany([good, { key: 'bad', value: 1, ttl: 5 } as never]),
      /unknown field "ttl"/,
    )
    await rejects(() => cache.setMany([good, { key: 'no value' } as never]), /has no value/)
    await rejects(() => cache.setMany([good, null as never]), /entries\[1\] must be an object/)
    await rejects(() => cache.setMany([good, { key: 2, value: 1 } as never]), /entries\[1\]\.key/)
    assert.equal(await cache.has('good'), false, 'nothing of a refused call was written')
    await cache.setMany([{ key: 'huge', value: 1, ttlSeconds: MAX_TTL_SECONDS }])
    assert.equal(await cache.has('huge'), true)
    if (reportsExpiry(cache.storage)) {
      const huge = await cache.expiresAt('huge')
      assert.ok(typeof huge === 'number' && huge > Date.now() + (MAX_TTL_SECONDS - 60) * 1000)
    }
    assert.equal((await cache.stats()).sets, 1)
  })

  it('has/expiresAt/getWithMetadata: live, absent, expiring and never-expiring entries', async () => {
    const cache = await makeCache()
    const tier = cache.storage.sync !== undefined ? 'memory' : 'shared'
    const before = Date.now()
    await cache.setMany(
      [
        { key: 'ttl', value: 'x', ttlSeconds: 60 },
        { key: 'forever', value: 0 },
      ],
      u('o', 'u'),
    )
    const after = Date.now()
    assert.equal(await cache.has('ttl', u('o', 'u')), true)
    assert.equal(await cache.has('absent', u('o', 'u')), false)
    // A storage without getWithExpiry cannot tell (cache.expiresAt is then a ConfigurationError).
    const expiries = reportsExpiry(cache.storage)
    if (expiries) {
      const at = await cache.expiresAt('ttl', u('o', 'u'))
      assert.ok(typeof at === 'number' && at <= after + 60_000 && at >= before + 59_000, `expiresAt ${at}`)
      assert.equal(await cache.expiresAt('forever', u('o', 'u')), null)
      assert.equal(await cache.expiresAt('absent', u('o', 'u')), undefined)
    }
    const hit = await cache.getWithMetadata('ttl', u('o', 'u'))
    assert.equal(hit.value, 'x')
    assert.equal(hit.status, 'hit')
    assert.ok(hit.tier === tier || hit.tier === 'local', `tier ${hit.tier}`)
    if (expiries) assert.ok(typeof hit.expiresAt === 'number' && hit.expiresAt <= after + 60_000)
    assert.deepEqual(await cache.getWithMetadata('absent', u('o', 'u')), {
      value: undefined,
      status: 'miss',
      tier,
      expiresAt: undefined,
    })
    await cache.set('short', 1, { ...u('o', 'u'), ttlSeconds: 0.1 })
    await sleep(250)
    assert.equal(await cache.has('short', u('o', 'u')), false)
    if (expiries) assert.equal(await cache.expiresAt('short', u('o', 'u')), undefined)
    assert.deepEqual(await cache.getMany(['short', 'forever'], u('o', 'u')), [undefined, 0])
    const stats = await cache.stats()
    assert.deepEqual([stats.hits, stats.misses], [2, 2], 'has and expiresAt are not counted as reads')
  })

  it('bulk under bounds: setMany keeps MaxItems, getMany hits count as uses for LRU', async () => {
    const capped = await makeCache([new MaxItemsEvict({ maxItems: 5 })])
    await capped.setMany(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: i })))
    assert.equal((await capped.stats()).totalKeys, 5)
    const lru = await makeCache([new LRUEvict({ maxItems: 3 })])
    await lru.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
      { key: 'c', value: 3 },
    ])
    await sleep(5)
    assert.deepEqual(await lru.getMany(['a']), [1])
    await sleep(5)
    await lru.set('d', 4)
    assert.deepEqual(await lru.getMany(['a', 'b', 'c', 'd']), [1, undefined, 3, 4])
  })
}
