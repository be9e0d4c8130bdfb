/**
 * What a read returns with a local tier stays what the shared storage holds: a caller mutating an
 * object after `set()` or after `get()` changes nothing that later reads return, in this process or
 * elsewhere (L1 keeps deep-frozen values; binary data is copied per hit). Against a real Redis, with
 * a Redis-only cache on the same prefix as the reference for "what the shared storage holds".
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { StorageProvider } from '../../src/index.js'
import { Cache, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { localCopy, NO_COPY } from '../../src/tiers/local-copy.js'
import { redisUrl, uniqueName } from '../support/services.js'
import { until } from './fixtures/processes.js'
import { silent } from './fixtures/silent.js'

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const

/** A fresh object of the kinds L1 freezes. */
const original = () => ({
  n: 1,
  s: 'text \u0000\u001b',
  nested: { list: [1, { deep: 'x' }] as [number, { deep: string }] },
  at: new Date(0),
})

/** A fresh object with a Map and a Set (copied per hit). */
const withCollections = () => ({ map: new Map<string, unknown>([['k', { v: 1 }]]), set: new Set([1, 2]) })

/** Tries each mutation; returns how many threw a TypeError (the others changed `value`). */
function mutateAll(value: ReturnType<typeof original>): number {
  const attempts: (() => void)[] = [
    () => (value.n = 2),
    () => (value.nested.list[0] = 99),
    () => (value.nested.list as unknown[]).push(3),
    () => (value.nested.list[1].deep = 'changed'),
    () => value.at.setTime(123),
    () => value.at.setFullYear(2000),
    () => delete (value as Partial<typeof value>).s,
  ]
  let refused = 0
  for (const attempt of attempts) {
    try {
      attempt()
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError)
      refused++
    }
  }
  return refused
}

describe.skipIf(redisUrl === undefined)('values read through a local tier', () => {
  const open: Cache<typeof scopes, StorageProvider>[] = []
  afterEach(async () => {
    for (const cache of open.splice(0)) {
      await cache.clear().catch(() => undefined)
      await cache.close()
    }
  })

  async function caches() {
    const prefix = uniqueName('copies')
    const tiered = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local: {} })
    const reader = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local: {} })
    const shared = new Cache({ scopes, storage: silent(new RedisStorage({ url: redisUrl!, prefix })) })
    open.push(tiered, reader, shared)
    let subscribed = 0
    for (const cache of [tiered, reader]) cache.on('busReset', () => subscribed++)
    await until(async () => subscribed >= 2, 5000)
    return { tiered, reader, shared }
  }

  it('a caller mutating its object after set() or the result of get() changes no later read', async () => {
    const { tiered, reader, shared } = await caches()
    const mine = original()
    await tiered.set('k', mine, u1)
    // The caller's own object stays its own, and mutable.
    expect(mutateAll(mine)).toBe(0)
    expect(await tiered.get('k', u1)).toEqual(original()) // an L1 hit: the value as stored
    expect(await shared.get('k', u1)).toEqual(original()) // what Redis holds

    for (const cache of [tiered, reader]) {
      // tiered: an L1 hit; reader: first a read from Redis (it fills the L1), then an L1 hit.
      for (let i = 0; i < 2; i++) {
        const got = (await cache.get('k', u1)) as ReturnType<typeof original>
        expect(got).toEqual(original())
        expect(mutateAll(got)).toBe(7) // every mutation refused
        expect(await cache.get('k', u1)).toEqual(original())
      }
      expect(await cache.get('k', u1)).toEqual(await shared.get('k', u1))
    }
    // Maps and Sets: each reader gets a copy of its own.
    await tiered.set('c', withCollections(), u1)
    for (const cache of [tiered, reader]) {
      for (let i = 0; i < 2; i++) {
        const got = (await cache.get('c', u1)) as ReturnType<typeof withCollections>
        expect(got).toEqual(withCollections())
        ;(got.map.get('k') as { v: number }).v = 2
        got.map.set('k2', 1)
        got.set.add(3)
      }
      expect(await cache.get('c', u1)).toEqual(await shared.get('c', u1))
    }
    // Still instances of the built-in classes.
    const got = (await tiered.get('k', u1)) as ReturnType<typeof original>
    expect(got.at).toBeInstanceOf(Date)
    expect(got.at.getTime()).toBe(0)
    expect(JSON.stringify(got.at)).toBe(JSON.stringify(new Date(0)))
  })

  it('binary data is copied for each reader; primitives, null and undefined are kept as they are', async () => {
    const { tiered, reader, shared } = await caches()
    const bytes = Buffer.from('abc')
    await tiered.set('bin', { bytes, label: 'x' }, u1)
    bytes[0] = 0
    for (const cache of [tiered, reader]) {
      for (let i = 0; i < 2; i++) {
        const got = (await cache.get('bin', u1)) as { bytes: Uint8Array; label: string }
        expect(Buffer.from(got.bytes).toString()).toBe('abc')
        got.bytes[0] = 0 // a copy of the reader's own
        got.label = 'changed'
      }
    }
    expect(Buffer.from(((await shared.get('bin', u1)) as { bytes: Uint8Array }).bytes).toString()).toBe('abc')
    for (const value of [0, -0, 'x'.repeat(100_000), null, undefined, true, 12n]) {
      await tiered.set('p', value, u1)
      expect(Object.is(await tiered.get('p', u1), value)).toBe(true)
    }
  })

  it('a large value and odd shapes keep their content', async () => {
    const { tiered } = await caches()
    const big = Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i}` }))
    await tiered.set('big', big, u1)
    const got = (await tiered.get('big', u1)) as typeof big
    expect(got).toEqual(big)
    expect(Object.isFrozen(got[19_999])).toBe(true)
    const shared = { leaf: 1 }
    const twice = { a: shared, b: shared, at: new Date(5), again: new Date(5) }
    const copy = localCopy(twice, false).kept as typeof twice
    expect(copy.a).toBe(copy.b) // one replacement for one shared object
    expect(() => copy.at.setTime(1)).toThrow(TypeError)
    expect(localCopy({ f: () => 1 }, false).kept).toBe(NO_COPY) // structured clone refuses functions
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { x: { y: 1 } })
    expect(Object.isFrozen((localCopy(nullProto, true).kept as { x: object }).x)).toBe(true)
  })
})
