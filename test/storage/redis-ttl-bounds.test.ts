/**
 * RedisStorage input limits and bound identity, on standalone and Cluster:
 * - a TTL Redis cannot store exactly is refused with an InvalidArgumentError before anything is sent,
 *   and fails only its own caller when coalesced with valid writes;
 * - a bound is identified by what it is, not by its place in the rule list: processes whose rule lists
 *   differ (a rolling deploy) share the state of the bounds they have in common.
 */
import type { Cluster, Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../src/index.js'
import type { BoundPolicy, EntryRef, ScopePath, StorageContext } from '../../src/index.js'
import { MISS } from '../../src/storage/contract.js'
import type { RedisStorage } from '../../src/redis.js'
import { redisTargets } from '../support/redis-targets.js'
import { uniqueName } from '../support/services.js'
import { redisInternals } from '../../src/storage/redis/storage.js'

const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (o: string, u: string): ScopePath => [...org(o), { level: 'user', id: u }]
const ref = (scope: ScopePath, key = 'k'): EntryRef => ({ scope, key })
const context = (bounds: readonly BoundPolicy[] = []): StorageContext => ({
  bounds,
  onEvicted: () => undefined,
  wantsEvictedRefs: false,
})
/** 100 years, the longest TTL (MAX_TTL_SECONDS of src/ttl.ts). */
const MAX_TTL_MS = 3_155_760_000_000
const targets = redisTargets()

describe.skipIf(targets.length === 0).each(targets)('RedisStorage limits and bounds ($name)', (redis) => {
  const open: RedisStorage[] = []
  afterEach(async () => {
    for (const storage of open.splice(0)) {
      await storage.evictScope([]).catch(() => undefined)
      await storage.close()
    }
  })
  const make = (prefix: string, bounds: readonly BoundPolicy[] = []) => {
    const storage = redis.storage(prefix)
    storage.attach(context(bounds))
    open.push(storage)
    return storage
  }
  const keysOf = async (storage: RedisStorage, prefix: string) => {
    const client = redisInternals.client(storage)
    const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
    const keys = await Promise.all(nodes.map((node) => node.keys(`*${prefix}*`)))
    return keys.flat()
  }

  for (const bounded of [false, true]) {
    const bounds: BoundPolicy[] = bounded ? [{ order: 'lru', maxItems: 100, per: 'user', reason: 'lru' }] : []
    it(`refuses a TTL it cannot store exactly, before sending anything${bounded ? ' (with bounds)' : ''}`, async () => {
      const prefix = uniqueName('ttl')
      const storage = make(prefix, bounds)
      expect(await storage.size()).toBe(0) // connected
      for (const ttl of [1e16, MAX_TTL_MS + 1, Infinity, NaN, 0, -5, '60' as unknown as number]) {
        await expect(storage.set(ref(user('o1', 'u')), 'v', ttl), String(ttl)).rejects.toBeInstanceOf(
          InvalidArgumentError,
        )
      }
      // Nothing but the bounds record that attach() writes (no marker, no registry member).
      expect((await keysOf(storage, prefix)).filter((k) => k !== `${prefix}:bounds`)).toEqual([])
      // The longest TTL is stored, and fractions are fine.
      await storage.set(ref(user('o1', 'u'), 'max'), 'v', MAX_TTL_MS)
      await storage.set(ref(user('o1', 'u'), 'frac'), 'v', 1000.5)
      expect(
        await redisInternals
          .client(storage)
          .pttl(`${prefix}:{organization=o1/}:d:organization=o1/user=u/|max`),
      ).toBeGreaterThan(MAX_TTL_MS - 60_000)
      expect(await storage.get(ref(user('o1', 'u'), 'frac'))).toBe('v')
    })

    it(`a bad TTL coalesced with valid writes fails only its own caller${bounded ? ' (with bounds)' : ''}`, async () => {
      const storage = make(uniqueName('ttlbatch'), bounds)
      await storage.set(ref(user('o1', 'u')), 'warm', undefined) // later writes start while busy: coalesced
      const writes = [
        storage.set(ref(user('o1', 'u'), 'a'), 1, 60_000),
        storage.set(ref(user('o1', 'u'), 'bad'), 2, 1e16),
        storage.set(ref(user('o1', 'u'), 'c'), 3, undefined),
        storage.set(ref(user('o2', 'u'), 'd'), 4, 60_000),
      ]
      const results = await Promise.allSettled(writes)
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError)
      expect(await Promise.all(['a', 'bad', 'c'].map((k) => storage.get(ref(user('o1', 'u'), k))))).toEqual([
        1,
        MISS,
        3,
      ])
      expect(await storage.get(ref(user('o2', 'u'), 'd'))).toBe(4)
      expect(await storage.size()).toBe(4)
    })
  }

  it('two processes whose rule lists differ in order share a per-user quota of 3', async () => {
    const prefix = uniqueName('bounds')
    const perUser: BoundPolicy = { order: 'lru', maxItems: 3, per: 'user', reason: 'lru' }
    const wide: BoundPolicy = { order: 'insertion', maxItems: 1000, reason: 'maxItems' }
    const perOrg: BoundPolicy = { order: 'insertion', maxItems: 5, per: 'organization', reason: 'maxItems' }
    const a = make(prefix, [perUser, wide])
    const b = make(prefix, [wide, perOrg, perUser])
    for (let i = 0; i < 12; i++) await (i % 2 === 0 ? a : b).set(ref(user('o1', 'u1'), `k${i}`), i, undefined)
    expect(await a.size()).toBe(3)
    // A bound only one of them has is still enforced by that one: at most 5 per organization.
    for (let i = 0; i < 8; i++) await b.set(ref(user('o2', `u${i}`)), i, undefined)
    expect(await b.evictScope(org('o2'))).toBe(5)
    // The same maxItems with another order or reason is another bound, with its own state.
    const c = make(prefix, [{ ...perUser, order: 'insertion', reason: 'maxItems' }])
    for (let i = 0; i < 4; i++) await c.set(ref(user('o3', 'u1'), `k${i}`), i, undefined)
    for (let i = 0; i < 4; i++) await a.set(ref(user('o3', 'u1'), `k${i}`), i, undefined)
    expect(await a.evictScope(org('o3'))).toBe(3)
    // The record the operator CLI reads is still written (the last attached cache's bounds).
    expect(JSON.parse((await redisInternals.client(a).get(`${prefix}:bounds`))!)).toEqual([
      { ...perUser, order: 'insertion', reason: 'maxItems' },
    ])
  })
})
