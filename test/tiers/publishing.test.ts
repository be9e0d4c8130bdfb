/**
 * A process WITHOUT a local tier still announces its changes on the bus, so that processes with one
 * drop their copies: a real second process (tier-peer.ts, with an L1) against this process's cache
 * without `local` (standalone Redis), the same within one process on a Redis Cluster, and the
 * wrapper's own promises (a removal resolves after its message was accepted; no bus connection of
 * its own; hostile keys and scope ids travel intact).
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BusMessageInfo } from '../../src/index.js'
import { Cache, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { PublishingStorage } from '../../src/tiers/publishing-storage.js'
import { describeStorageConformance } from '../storage/conformance.js'
import { redisClusterNodes, redisUrl, sleep, uniqueName } from '../support/services.js'
import { Peer, until } from './fixtures/processes.js'
import { redisInternals } from '../../src/storage/redis/storage.js'

/** How long a change may take to reach another process's L1 while the bus is connected. */
const BUS_BOUND_MS = 1000

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const
const u2 = { scope: 'user', orgId: 'o1', userId: 'u2' } as const
const o2 = { scope: 'user', orgId: 'o2', userId: 'u1' } as const

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
})
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

/** Number of bus messages `peer` applied so far. */
async function messages(peer: Peer): Promise<number> {
  return (await peer.send<Record<string, number>>({ op: 'events' })).busMessage ?? 0
}

describe.skipIf(redisUrl === undefined)('the publishing wrapper keeps the storage contract', () => {
  describeStorageConformance('publishing wrapper (redis standalone)', {
    create: () =>
      new PublishingStorage(
        new RedisStorage({ url: redisUrl!, prefix: uniqueName('pconf') }),
        () => undefined,
      ),
    propertyRuns: 10,
  })
})

describe.skipIf(redisUrl === undefined)(
  'a process without a local tier, and one with (real processes)',
  () => {
    it('its evict, evictByScope, clear and writes drop the other process’s L1 copies', async () => {
      const prefix = uniqueName('nolocal')
      const peer = new Peer({ PEER_URL: redisUrl!, PEER_PREFIX: prefix })
      const plain = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
      try {
        await peer.ready
        for (const opts of [u1, u2, o2]) await plain.set('k', `${opts.orgId}/${opts.userId}`, opts)
        await plain.set('g', 'global')
        await until(async () => (await messages(peer)) >= 4, BUS_BOUND_MS)
        for (const opts of [u1, u2, o2])
          expect(await peer.get('k', opts)).toBe(`${opts.orgId}/${opts.userId}`)
        expect(await peer.get('g')).toBe('global') // four copies in the peer's L1

        // A plain write: the peer stops serving its copy.
        await plain.set('g', 'global 2')
        await until(async () => (await peer.get('g')) === 'global 2', BUS_BOUND_MS)

        expect(await plain.evict('k', u2)).toBe(true)
        await until(async () => (await peer.get('k', u2)) === undefined, BUS_BOUND_MS)
        expect(await peer.get('k', u1)).toBe('o1/u1') // other copies untouched

        expect(await plain.evictByScope('organization', { orgId: 'o1' })).toBe(1)
        await until(async () => (await peer.get('k', u1)) === undefined, BUS_BOUND_MS)
        expect(await peer.get('k', o2)).toBe('o2/u1') // the other organization's copy is kept

        expect(await plain.clear()).toBe(2)
        await until(async () => (await peer.get('k', o2)) === undefined, BUS_BOUND_MS)
        expect(await peer.get('g')).toBeUndefined()
      } finally {
        expect(await peer.close()).toEqual([])
        await plain.close()
      }
    }, 20_000)
  },
)

describe.skipIf(redisUrl === undefined)('the publishing wrapper on a standalone Redis', () => {
  it('a removal resolves only once its message was accepted, and hostile ids travel intact', async () => {
    const prefix = uniqueName('pubw')
    const tiered = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local: {} })
    const plain = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }) })
    const received: BusMessageInfo[] = []
    tiered.on('busMessage', (info) => received.push(info))
    let subscribed = false
    tiered.on('busReset', () => (subscribed = true))
    const hostile = { scope: 'user', orgId: 'o\u0000:{x}\n"', userId: 'u\u001b[2J\u2028' } as const
    const key = 'k\u0000\r\n{tag}*?' + 'x'.repeat(2000)
    try {
      await until(async () => subscribed, 5000)
      await plain.set(key, 'v', hostile)
      await until(async () => received.length === 1, BUS_BOUND_MS)
      expect(await tiered.get(key, hostile)).toBe('v')
      // 30 evictions: each resolves after Redis accepted its message, so the message is in the
      // subscriber's socket by then; the tier applies it within a few turns of the event loop.
      for (let i = 0; i < 30; i++) {
        await plain.set(key, `v${i}`, hostile)
        await until(async () => (await tiered.get(key, hostile)) === `v${i}`, BUS_BOUND_MS)
        const before = received.length
        await plain.evictByScope('user', { orgId: hostile.orgId, userId: hostile.userId })
        await until(async () => received.length > before, 200)
        expect(await tiered.get(key, hostile)).toBeUndefined()
      }
      const last = received.at(-1)!.invalidation
      expect(last).toEqual({
        kind: 'scope',
        path: [
          { level: 'organization', id: hostile.orgId },
          { level: 'user', id: hostile.userId },
        ],
      })
    } finally {
      await plain.clear()
      await tiered.close()
      await plain.close()
    }
  }, 20_000)

  it('invalidateTags: the message leaves from the invalidation script itself, once the entries are gone, and drops the other cache’s L1 copies (20 rounds, hostile ids)', async () => {
    const prefix = uniqueName('pubt')
    const tiered = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local: {} })
    const storage = new RedisStorage({ url: redisUrl!, prefix })
    const plain = new Cache({ scopes, storage })
    const received: BusMessageInfo[] = []
    tiered.on('busMessage', (info) => received.push(info))
    let subscribed = false
    tiered.on('busReset', () => (subscribed = true))
    const hostile = { scope: 'user', orgId: 'o\u0000:{x}\n"', userId: 'u\u001b[2J\u2028' } as const
    const commands: string[] = []
    const client = redisInternals.client(storage)
    const send = client.sendCommand.bind(client) as (command: { name: string }) => unknown
    ;(client as unknown as { sendCommand: (command: { name: string }) => unknown }).sendCommand = (
      command,
    ) => {
      commands.push(command.name)
      return send(command)
    }
    try {
      await until(async () => subscribed, 5000)
      for (let i = 0; i < 20; i++) {
        await plain.set('tagged', `v${i}`, { ...hostile, tags: ['plan:pro'] })
        await plain.set('kept', `v${i}`, hostile)
        await until(async () => (await tiered.get('tagged', hostile)) === `v${i}`, BUS_BOUND_MS)
        await until(async () => (await tiered.get('kept', hostile)) === `v${i}`, BUS_BOUND_MS)
        const before = received.length
        commands.length = 0
        expect(
          await plain.invalidateTags(['plan:pro'], { scope: 'organization', orgId: hostile.orgId }),
        ).toBe(1)
        expect(commands).toEqual(['evalsha']) // the removal and its message: one command
        await until(async () => received.length > before, 200)
        expect(await tiered.get('tagged', hostile)).toBeUndefined()
        expect(await tiered.get('kept', hostile)).toBe(`v${i}`)
      }
      expect(received.at(-1)!.invalidation).toEqual({
        kind: 'scope',
        path: [{ level: 'organization', id: hostile.orgId }],
      })
    } finally {
      await plain.clear()
      await tiered.close()
      await plain.close()
    }
  }, 30_000)

  it('opens no connection of its own: publishing uses the storage’s client, nothing subscribes', async () => {
    const prefix = uniqueName('pubconn')
    const admin = new Redis(redisUrl!)
    const storage = new RedisStorage({ url: redisUrl!, prefix })
    const plain = new Cache({ scopes, storage })
    try {
      await plain.set('k', 1, u1) // connected
      const name = `cacheado-test-${prefix}`
      await redisInternals.client(storage).client('SETNAME', name)
      const before = String(await admin.client('LIST'))
      await plain.evict('k', u1)
      await plain.evictByScope('organization', { orgId: 'o1' })
      await plain.clear()
      await sleep(50)
      const after = String(await admin.client('LIST'))
      // Exactly the storage's own connection, and nothing subscribed from it.
      const count = (list: string) =>
        list.split('\n').filter((line) => line.includes(` name=${name} `)).length
      expect(count(before)).toBe(1)
      expect(count(after)).toBe(1)
      expect(after.split('\n').filter((line) => line.includes(prefix) && / sub=[1-9]/.test(line))).toEqual([])
    } finally {
      await plain.close()
      await admin.quit()
    }
  })
})

describe.skipIf(redisClusterNodes === undefined)('a cache without a local tier on a Redis Cluster', () => {
  it('its removals and writes reach a local tier through cluster pub/sub', async () => {
    const prefix = uniqueName('cnolocal')
    const tiered = new Cache({
      scopes,
      storage: new RedisStorage({ cluster: redisClusterNodes!, prefix }),
      local: {},
    })
    const plain = new Cache({ scopes, storage: new RedisStorage({ cluster: redisClusterNodes!, prefix }) })
    let subscribed = false
    tiered.on('busReset', () => (subscribed = true))
    let received = 0
    tiered.on('busMessage', () => received++)
    try {
      await until(async () => subscribed, 10_000)
      for (const opts of [u1, o2]) await plain.set('k', 'v1', opts) // two tenants: two hash slots
      await until(async () => received === 2, BUS_BOUND_MS)
      for (const opts of [u1, o2]) expect(await tiered.get('k', opts)).toBe('v1')
      await plain.set('k', 'v2', u1)
      await until(async () => (await tiered.get('k', u1)) === 'v2', BUS_BOUND_MS)
      expect(await plain.evict('k', u1)).toBe(true)
      await until(async () => (await tiered.get('k', u1)) === undefined, BUS_BOUND_MS)
      expect(await plain.evictByScope('organization', { orgId: 'o2' })).toBe(1)
      await until(async () => (await tiered.get('k', o2)) === undefined, BUS_BOUND_MS)
    } finally {
      await plain.clear()
      await tiered.close()
      await plain.close()
    }
  }, 20_000)
})
