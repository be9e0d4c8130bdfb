import { Cluster, Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { Cache } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import type { RedisClient } from '../../src/storage/redis/connection.js'
import { redisClusterNodes, redisUrl, sleep, uniqueName } from '../support/services.js'
import { scopes } from './conformance.js'

/**
 * Coalescing (src/storage/redis/batch.ts): operations started in one tick share commands, and are
 * applied in the order they started. The commands a client sends are counted by wrapping its
 * `sendCommand`; the commands still run on the real server.
 */
const setups = [
  { name: 'standalone', skip: redisUrl === undefined, client: () => new Redis(redisUrl!) },
  {
    name: 'cluster',
    skip: redisClusterNodes === undefined,
    client: () => new Cluster(redisClusterNodes!, { redisOptions: { commandTimeout: 2000 } }),
  },
] as const

/** Counts the commands sent through `client`, by name. */
function countCommands(client: RedisClient): Map<string, number> {
  const counts = new Map<string, number>()
  const send = client.sendCommand.bind(client) as (command: { name: string }) => unknown
  ;(client as unknown as { sendCommand: (command: { name: string }) => unknown }).sendCommand = (command) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1)
    return send(command)
  }
  return counts
}

for (const setup of setups) {
  describe.skipIf(setup.skip)(`RedisStorage coalescing ('${setup.name}')`, () => {
    async function withCache<T>(
      run: (cache: Cache<typeof scopes, RedisStorage>, counts: Map<string, number>) => Promise<T>,
    ) {
      const client = setup.client()
      const storage = new RedisStorage({ client, prefix: uniqueName('coal') })
      // No bus: this suite counts the storage's own commands (a cache without a local tier would
      // otherwise announce its writes on the bus; that is tested in test/tiers/publishing.test.ts).
      Object.defineProperty(storage, 'createBus', { value: undefined })
      const cache = new Cache({ scopes, storage })
      try {
        await cache.set('warm', 0)
        return await run(cache, countCommands(client))
      } finally {
        await cache.clear()
        await cache.close()
        client.disconnect()
      }
    }
    const org = (i: number) => ({ scope: 'user', orgId: `o${i % 4}`, userId: `u${i}` }) as const

    // The first operation of a burst starts alone, so it is sent at once; the 99 others that start in
    // the same tick are coalesced: one script per tenant, one MGET (per tenant on a Cluster).
    it('writes 100 concurrent entries of 4 tenants with one script per tenant', async () => {
      await withCache(async (cache, counts) => {
        const write = (round: number) =>
          Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              cache.set(`k${i}`, i + round, { ...org(i), ttlSeconds: 60 }),
            ),
          )
        await write(0)
        // Four new tenants. Standalone: registered by the write scripts themselves. Cluster: each
        // registered and its registration confirmed afterwards (two scripts on the registry's slot, see
        // redis/registry.ts); the first write's tenant may be registered twice (it went alone).
        if (setup.name === 'standalone') expect(counts.get('evalsha')).toBe(1 + 4)
        else {
          expect(counts.get('evalsha')).toBeGreaterThanOrEqual(1 + 4 + 4 * 2)
          expect(counts.get('evalsha')).toBeLessThanOrEqual(1 + 4 + 5 * 2)
        }
        counts.clear()
        await write(1)
        expect(counts.get('evalsha')).toBe(1 + 4)
        expect(counts.size).toBe(1) // nothing else: no retry, no registration
        const values = await Promise.all(Array.from({ length: 100 }, (_, i) => cache.get(`k${i}`, org(i))))
        expect(values).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
        expect(counts.get('get')).toBe(1)
        // one MGET on a standalone server; one per tenant (hash slot) on a Cluster
        expect(counts.get('mget')).toBe(setup.name === 'standalone' ? 1 : 4)
        expect(await cache.evictByScope('organization', { orgId: 'o1' })).toBe(25)
        expect((await cache.stats()).totalKeys).toBe(76)
      })
    })

    it('applies operations started in one tick in the order they started', async () => {
      await withCache(async (cache) => {
        const u = org(1)
        const [, before, , afterSet, evicted, afterEvict, , last] = await Promise.all([
          cache.set('k', 1, u),
          cache.get('k', u),
          cache.set('k', 2, u),
          cache.get('k', u),
          cache.evict('k', u),
          cache.get('k', u),
          cache.set('k', 3, u),
          cache.get('k', u),
        ])
        expect([before, afterSet, evicted, afterEvict, last]).toEqual([1, 2, true, undefined, 3])
        await Promise.all([cache.set('x', 'a', u), cache.set('x', 'b', u), cache.set('x', 'c', u)])
        expect(await cache.get('x', u)).toBe('c')
        const [, scoped, read] = await Promise.all([
          cache.set('y', 1, u),
          cache.evictByScope('user', { orgId: u.orgId, userId: u.userId }),
          cache.get('y', u),
        ])
        expect(scoped).toBe(3) // k, x and y: the write of y started before the eviction
        expect(read).toBeUndefined()
      })
    })

    it('keeps each entry of a batch with its own TTL and scope indexes', async () => {
      await withCache(async (cache) => {
        await Promise.all([
          cache.set('short', 1, { ...org(2), ttlSeconds: 0.05 }),
          cache.set('long', 2, { ...org(2), ttlSeconds: 60 }),
          cache.set('forever', 3, org(2)),
          cache.set('other-user', 4, { ...org(6), ttlSeconds: 60 }),
        ])
        await sleep(120)
        expect(await Promise.all(['short', 'long', 'forever'].map((k) => cache.get(k, org(2))))).toEqual([
          undefined,
          2,
          3,
        ])
        expect(await cache.evictByScope('user', { orgId: 'o2', userId: 'u2' })).toBe(2)
        expect(await cache.get('other-user', org(6))).toBe(4)
      })
    })
  })
}
