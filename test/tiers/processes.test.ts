/**
 * Two tiers across real processes: three Node processes (this one and two tier-peer.ts children) share
 * one Redis, each with its own L1 and bus connection.
 * - A write, an eviction, a scope eviction and a clear in one process are seen by the others within the
 *   documented bound (README "Two tiers": the pub/sub hop; the test allows {@link BUS_BOUND_MS}).
 * - Redis killed under load and brought back (an own redis-server, empty after the restart): nothing
 *   hangs, no unhandled rejection in any process, L1 copies keep being served during the outage, the
 *   breaker opens and closes, and no copy from before the outage is served longer than
 *   {@link RECOVERY_BOUND_MS} after the first successful write once Redis is back.
 */
import type { ChildProcess } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CircuitOpenInfo, StorageProvider } from '../../src/index.js'
import { Cache, ScopeConfig, ScopeLevel, StorageError } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { freePort, redisUrl, sleep, uniqueName } from '../support/services.js'
import { startRedis, stopRedis } from '../support/redis-server.js'
import { Peer, until } from './fixtures/processes.js'
import { silent } from './fixtures/silent.js'

/** How long a change may take to reach another process's L1 while the bus is connected. */
const BUS_BOUND_MS = 1000
/** How long after Redis is back a copy from before the outage may still be served. */
const RECOVERY_BOUND_MS = 2500

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
})

/** Waits until each peer has applied at least `n` bus messages. */
async function applied(peers: readonly Peer[], n: number): Promise<void> {
  for (const peer of peers) {
    await until(
      async () => ((await peer.send<Record<string, number>>({ op: 'events' })).busMessage ?? 0) >= n,
      BUS_BOUND_MS,
    )
  }
}

describe.skipIf(redisUrl === undefined)('three processes share one Redis through two tiers', () => {
  const peers: Peer[] = []
  const caches: Cache<typeof scopes, StorageProvider>[] = []
  afterEach(async () => {
    for (const cache of caches.splice(0)) {
      await cache.clear().catch(() => undefined)
      await cache.close()
    }
    for (const peer of peers.splice(0)) {
      expect(await peer.close()).toEqual([])
    }
    expect(unhandled).toEqual([])
  })

  async function start(prefix: string) {
    const a = new Peer({ PEER_URL: redisUrl!, PEER_PREFIX: prefix })
    const b = new Peer({ PEER_URL: redisUrl!, PEER_PREFIX: prefix })
    peers.push(a, b)
    const parent = new Cache({ scopes, storage: new RedisStorage({ url: redisUrl!, prefix }), local: {} })
    let subscribed = false
    parent.on('busReset', () => (subscribed = true))
    let messages = 0
    parent.on('busMessage', () => messages++)
    // Writes behind every L1's back (no bus): only a dropped copy can make a process see them.
    const behind = new Cache({ scopes, storage: silent(new RedisStorage({ url: redisUrl!, prefix })) })
    caches.push(parent, behind)
    await Promise.all([a.ready, b.ready, until(async () => subscribed, 5000)])
    return { a, b, parent, behind, parentMessages: () => messages }
  }

  it('a write in one process is seen by the others within the bound, in every direction', async () => {
    const { a, b, parent, behind, parentMessages } = await start(uniqueName('three'))
    await parent.set('k', 'v1', u1)
    await applied([a, b], 1) // the message about this write reached the peers before they fill their L1
    expect(await a.get('k', u1)).toBe('v1')
    expect(await b.get('k', u1)).toBe('v1')
    await behind.set('k', 'behind', u1)
    expect(await a.get('k', u1)).toBe('v1') // served from a's L1
    expect(await b.get('k', u1)).toBe('v1')

    await parent.set('k', 'v2', u1)
    await until(async () => (await a.get('k', u1)) === 'v2', BUS_BOUND_MS)
    await until(async () => (await b.get('k', u1)) === 'v2', BUS_BOUND_MS)

    // From a peer to the parent and the other peer.
    await a.send({ op: 'set', key: 'p', value: 'from a' })
    await applied([b], 3) // b: the parent's two writes and a's
    await until(async () => parentMessages() === 1, BUS_BOUND_MS)
    expect(await parent.get('p')).toBe('from a')
    expect(await b.get('p')).toBe('from a')
    await behind.set('p', 'behind')
    expect(await parent.get('p')).toBe('from a')
    await a.send({ op: 'set', key: 'p', value: 'again from a' })
    await until(async () => (await parent.get('p')) === 'again from a', BUS_BOUND_MS)
    await until(async () => (await b.get('p')) === 'again from a', BUS_BOUND_MS)
    expect(((await b.send({ op: 'events' })) as { busMessage: number }).busMessage).toBeGreaterThan(0)
  })

  it('evict, a scope eviction and clear in one process drop the others’ copies, and only those', async () => {
    const { a, b, parent, behind } = await start(uniqueName('three'))
    for (const opts of [u1, u2, o2]) await parent.set('k', `${opts.orgId}/${opts.userId}`, opts)
    await applied([a, b], 3)
    for (const peer of [a, b]) for (const opts of [u1, u2, o2]) await peer.get('k', opts)
    for (const opts of [u1, u2, o2]) await behind.set('k', 'behind', opts)

    expect((await b.send({ op: 'evict', key: 'k', opts: u2 })).removed).toBe(true)
    await until(async () => (await a.get('k', u2)) === undefined, BUS_BOUND_MS)
    expect(await a.get('k', u1)).toBe('o1/u1')

    expect((await parent.evictByScope('organization', { orgId: 'o1' })) as number).toBe(1)
    for (const peer of [a, b]) await until(async () => (await peer.get('k', u1)) === undefined, BUS_BOUND_MS)
    // The other organization's copies were not touched: still the values from before `behind` wrote.
    expect(await a.get('k', o2)).toBe('o2/u1')
    expect(await b.get('k', o2)).toBe('o2/u1')

    await a.send({ op: 'clear' })
    await until(async () => (await b.get('k', o2)) === undefined, BUS_BOUND_MS)
    expect(await parent.get('k', o2)).toBeUndefined()
  })

  it('a tag invalidated in one process is gone from the others’ local tiers within the bound', async () => {
    const { a, b, parent, behind } = await start(uniqueName('three'))
    const tagged = (opts: typeof u1 | typeof u2 | typeof o2) => ({ ...opts, tags: ['plan:pro'] })
    for (const opts of [u1, u2, o2]) await parent.set('k', `${opts.orgId}/${opts.userId}`, tagged(opts))
    await parent.set('plain', 'kept', u1)
    await applied([a, b], 4)
    for (const peer of [a, b]) for (const opts of [u1, u2, o2]) await peer.get('k', opts)
    // Behind every L1's back: only a dropped copy can make a process see these (still tagged) values.
    for (const opts of [u1, u2, o2]) await behind.set('k', 'behind', tagged(opts))
    expect(await b.get('k', u1)).toBe('o1/u1')

    const started = Date.now()
    const scoped = await a.send({
      op: 'invalidateTags',
      tags: ['plan:pro'],
      opts: { scope: 'organization', orgId: 'o1' },
    })
    expect(scoped.removed).toBe(2)
    for (const opts of [u1, u2]) {
      await until(async () => (await b.get('k', opts)) === undefined, BUS_BOUND_MS)
      await until(async () => (await parent.get('k', opts)) === undefined, BUS_BOUND_MS)
    }
    expect(Date.now() - started).toBeLessThan(BUS_BOUND_MS + 500)
    // The other organization's copies were not touched; untagged entries stay.
    expect(await b.get('k', o2)).toBe('o2/u1')
    expect(await b.get('plain', u1)).toBe('kept')

    expect(await parent.invalidateTags(['plan:pro'])).toBe(1)
    for (const peer of [a, b]) await until(async () => (await peer.get('k', o2)) === undefined, BUS_BOUND_MS)
    expect(await a.get('plain', u1)).toBe('kept')
  })
})

describe.skipIf(redisUrl === undefined)('Redis killed under load and brought back', () => {
  let port = 0
  let server: ChildProcess | undefined
  beforeAll(async () => {
    port = await freePort()
    server = await startRedis(port)
  })
  afterAll(async () => {
    if (server) await stopRedis(server)
  })

  it('no hang, no unhandled rejection, L1 serves during the outage, no stale copy past the bound after', async () => {
    const url = `redis://127.0.0.1:${port}`
    const prefix = uniqueName('kill')
    const env = { PEER_URL: url, PEER_PREFIX: prefix, PEER_TIMEOUT_MS: '300', PEER_BREAKER: '3,0.3' }
    const peers = [new Peer(env), new Peer(env)]
    const parent = new Cache({
      scopes,
      storage: new RedisStorage({ url, prefix, commandTimeoutMs: 300 }),
      local: { circuitBreaker: { failureThreshold: 3, openSeconds: 0.3 } },
    })
    const opened: CircuitOpenInfo[] = []
    parent.on('circuitOpen', (info) => opened.push(info))
    let subscribed = false
    parent.on('busReset', () => (subscribed = true))
    try {
      await Promise.all([...peers.map((p) => p.ready), until(async () => subscribed, 5000)])
      await parent.set('k', 'before')
      await applied(peers, 1)
      for (const peer of peers) expect(await peer.get('k')).toBe('before')

      const loads = peers.map((peer) => peer.send<Record<string, number>>({ op: 'load', ms: 4000 }))
      await sleep(300)
      await stopRedis(server!)
      await sleep(800)
      // During the outage: the L1 copies are still served, and a miss fails fast with a StorageError.
      for (const peer of peers) expect(await peer.get('k')).toBe('before')
      expect(await parent.get('k')).toBe('before')
      for (let i = 0; i < 4; i++) await parent.get(`missing-${i}`).catch(() => undefined)
      const started = Date.now()
      await expect(parent.get('missing')).rejects.toBeInstanceOf(StorageError)
      expect(Date.now() - started).toBeLessThan(100) // the breaker answers at once
      expect(opened.length).toBeGreaterThan(0)

      server = await startRedis(port) // empty: nothing was persisted
      // The first write that succeeds once Redis is back (the parent reconnects and its breaker probes).
      await until(async () => {
        try {
          await parent.set('k', 'after')
          return true
        } catch {
          return false
        }
      }, 10_000)
      for (const peer of peers) {
        await until(async () => (await peer.get('k').catch(() => 'error')) === 'after', RECOVERY_BOUND_MS)
      }

      for (const result of await Promise.all(loads)) {
        expect(result.ok).toBeGreaterThan(0)
        expect(result.failed).toBeGreaterThan(0)
        expect(result.slowest).toBeLessThan(2000) // nothing waited much longer than the command timeout
      }
      for (const peer of peers) {
        const events = await peer.send<Record<string, number>>({ op: 'events' })
        expect(events.circuitOpen).toBeGreaterThan(0)
        expect(events.circuitClose).toBeGreaterThan(0)
        expect(events.busReset).toBeGreaterThan(1) // the first subscription, then the resubscription
      }
    } finally {
      for (const peer of peers) expect(await peer.close().catch((e: unknown) => [String(e)])).toEqual([])
      await parent.close()
      for (const peer of peers) peer.kill()
    }
    expect(unhandled).toEqual([])
  }, 30_000)
})
