/**
 * The registry of tenants on Redis (src/storage/redis/registry.ts): a tenant that holds data is always
 * registered (a connection dropped mid-eviction orphans nothing), and a tenant without live entries
 * leaves no trace once its last entry is gone or expired (only its eviction generations, which expire).
 */
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import type { Cluster } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath, StorageContext } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import type { RedisClient } from '../../src/storage/redis/connection.js'
import { startRedis, stopRedis } from '../support/redis-server.js'
import { redisTargets } from '../support/redis-targets.js'
import { freePort, redisUrl, sleep, uniqueName } from '../support/services.js'
import { redisInternals } from '../../src/storage/redis/storage.js'

const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (o: string, u: string): ScopePath => [...org(o), { level: 'user', id: u }]
const ref = (scope: ScopePath, key = 'k'): EntryRef => ({ scope, key })
const context = (sweepIntervalMs?: number): StorageContext => ({
  bounds: [],
  onEvicted: () => undefined,
  wantsEvictedRefs: false,
  ...(sweepIntervalMs === undefined ? {} : { sweepIntervalMs }),
})

/** Every key containing `prefix`, on every master (SCAN per node). */
async function keysWith(client: RedisClient, prefix: string): Promise<string[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
  const found: string[] = []
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 5000)
      cursor = next
      found.push(...keys)
    } while (cursor !== '0')
  }
  return found.sort()
}

/** Writes `count` entries with at most 500 in flight. */
async function writeMany(count: number, write: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: 500 }, async () => {
      while (next < count) await write(next++)
    }),
  )
}

describe.skipIf(redisUrl === undefined)(
  'a connection dropped during a tenant eviction (own redis-server)',
  () => {
    let server: ChildProcess | undefined
    let port = 0
    beforeAll(async () => {
      port = await freePort()
      server = await startRedis(port)
    })
    afterAll(async () => {
      if (server) await stopRedis(server)
    })

    it('orphans nothing: the rest of the tenant stays registered, counted and clearable', async () => {
      const prefix = uniqueName('drop')
      const storage = new RedisStorage({ url: `redis://127.0.0.1:${port}`, prefix, commandTimeoutMs: 500 })
      storage.attach(context())
      const raw = new Redis(port, '127.0.0.1')
      try {
        await writeMany(5000, (i) => storage.set(ref(user('o1', `u${i % 7}`), `k${i}`), i, undefined))
        await storage.set(ref(org('o2')), 1, undefined)
        expect(await storage.size()).toBe(5001)

        // The connection drops right before the second batch (of 2000) of the eviction is sent.
        const client = redisInternals.client(storage) as Redis
        const send = client.sendCommand.bind(client)
        let scripts = 0
        client.sendCommand = ((command: { name: string }) => {
          if (command.name === 'evalsha' && ++scripts === 2) client.stream.destroy()
          return send(command as Parameters<typeof send>[0])
        }) as typeof client.sendCommand
        await expect(storage.evictScope(org('o1'))).rejects.toThrow()
        client.sendCommand = send

        // 3000 entries of o1 are left; the tenant is still in the registry, so they are seen and cleared.
        const left = (await raw.keys(`${prefix}:{organization=o1/}:d:*`)).length
        expect(left).toBe(3000)
        expect(await raw.sismember(`${prefix}:tags`, 'organization=o1/')).toBe(1)
        const deadline = Date.now() + 5000
        let size: number | undefined
        while (size === undefined && Date.now() < deadline) {
          size = await storage.size().catch(() => sleep(50).then(() => undefined))
        }
        expect(size).toBe(left + 1)
        expect(await storage.evictScope([])).toBe(left + 1)
        // Left: the eviction generations and the cache-wide one, both with a retention TTL.
        const traces = await raw.keys(`${prefix}:*`)
        expect(traces.filter((k) => !k.endsWith('}:f') && k !== `${prefix}:{${prefix}:tags}:g`)).toEqual([])
        for (const key of traces) expect(await raw.pttl(key)).toBeGreaterThan(0)
      } finally {
        raw.disconnect()
        await storage.close()
      }
    })
  },
)

const targets = redisTargets()

describe.skipIf(targets.length === 0).each(targets)(
  'a tenant without live entries leaves no trace ($name)',
  (redis) => {
    const open: RedisStorage[] = []
    afterEach(async () => {
      for (const storage of open.splice(0)) {
        await storage.evictScope([]).catch(() => undefined)
        await storage.close()
      }
    })
    const make = (sweepIntervalMs?: number) => {
      const prefix = uniqueName('trace')
      const storage = redis.storage(prefix)
      storage.attach(context(sweepIntervalMs))
      open.push(storage)
      return { prefix, storage }
    }

    it('5000 one-off tenants whose entries expired: after one sweep, no key of the prefix is left', async () => {
      const { prefix, storage } = make()
      await writeMany(5000, (i) => storage.set(ref(user(`t${i}`, 'u')), i, 300))
      expect(await redisInternals.client(storage).scard(`${prefix}:tags`)).toBe(5000)
      expect((await keysWith(redisInternals.client(storage), prefix)).length).toBeGreaterThanOrEqual(10_000)
      await sleep(400)
      // Another process on the prefix sweeps.
      const sweeper = redis.storage(prefix)
      sweeper.attach(context(200))
      open.push(sweeper)
      const deadline = Date.now() + 10_000
      let left = await keysWith(redisInternals.client(storage), prefix)
      while (left.length !== 0 && Date.now() < deadline) {
        await sleep(100)
        left = await keysWith(redisInternals.client(storage), prefix)
      }
      expect(left).toEqual([])
      expect(await storage.size()).toBe(0)
    })

    it('deleting the last entry, or evicting the tenant, leaves only self-expiring generations', async () => {
      const { prefix, storage } = make()
      await storage.set(ref(user('o1', 'u')), 1, 60_000)
      await storage.set(ref(org('o2')), 1, undefined)
      expect(await storage.delete(ref(user('o1', 'u')))).toBe(true)
      expect(
        (await keysWith(redisInternals.client(storage), prefix)).filter((k) => k.includes('o1')),
      ).toEqual([])
      expect(await storage.evictScope(org('o2'))).toBe(1)
      const left = await keysWith(redisInternals.client(storage), prefix)
      expect(left).toEqual([`${prefix}:{organization=o2/}:f`])
      expect(await redisInternals.client(storage).pttl(left[0]!)).toBeGreaterThan(0)
      // The tenant comes back on its next write, registered before anyone can miss it.
      await storage.set(ref(org('o2')), 2, undefined)
      expect(await storage.size()).toBe(1)
      expect(await storage.evictScope([])).toBe(1)
    })

    it('writers racing with evictions, deletes and a sweeper never leave data outside the registry', async () => {
      const { prefix, storage: writer } = make()
      const evictor = redis.storage(prefix)
      evictor.attach(context())
      const sweeper = redis.storage(prefix)
      sweeper.attach(context(5))
      open.push(evictor, sweeper)
      let done = false
      const writes = writeMany(3000, async (i) => {
        const o = `o${i % 10}`
        if (i % 7 === 0) await writer.delete(ref(user(o, 'u'), `k${i - 7}`))
        else await writer.set(ref(user(o, 'u'), `k${i}`), i, i % 3 === 0 ? 5 : undefined)
      }).finally(() => (done = true))
      const evictions = (async () => {
        for (let i = 0; !done; i++) {
          await evictor.evictScope(i % 5 === 0 ? user(`o${i % 10}`, 'u') : org(`o${i % 10}`))
          await sleep(1)
        }
      })()
      await Promise.all([writes, evictions])
      await sleep(50) // TTL'd entries expire
      const data = (await keysWith(redisInternals.client(writer), `${prefix}:{`)).filter((k) =>
        k.includes('}:d:'),
      )
      const tags = new Set(data.map((k) => k.slice(k.indexOf('{') + 1, k.indexOf('}'))))
      const registered = new Set(await redisInternals.client(writer).smembers(`${prefix}:tags`))
      expect([...tags].filter((tag) => !registered.has(tag))).toEqual([])
      const live = data.length
      expect(await writer.size()).toBe(live)
      expect(await writer.evictScope([])).toBe(live)
    })
  },
)
