/**
 * `fn.evict(args)` across processes: this process and a peer process (test/memoize/fixtures/
 * handle-peer.ts) share one Redis (standalone, then Cluster) through two tiers each. Once the peer has
 * a copy of an entry in its L1, `fn.evict(args)` here removes it from the peer's L1 within the bus's
 * delivery bound, and only that entry.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Cache } from '../../src/index.js'
import { redisTargets } from '../support/redis-targets.js'
import { RpcPeer } from '../support/rpc-peer.js'
import { sleep, uniqueName } from '../support/services.js'

/** How long an eviction may take to reach another process's L1 while the bus is connected. */
const BUS_BOUND_MS = 1000
const PEER = new URL('./fixtures/handle-peer.ts', import.meta.url).pathname

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

describe.each(redisTargets())('fn.evict across two-tier processes on Redis $name', (target) => {
  it('drops the entry from the other process’s L1 within the bus bound, and only that entry', async () => {
    const prefix = uniqueName('handle-bus')
    const peer = new RpcPeer(PEER, { ...target.env, PEER_PREFIX: prefix })
    cleanup.push(async () => {
      expect(await peer.close()).toEqual([])
    })
    const cache = new Cache({ storage: target.storage(prefix), local: { ttlSeconds: 60 } })
    cleanup.push(async () => {
      await cache.clear()
      await cache.close()
    })
    const subscribed = new Promise<void>((resolve) => cache.on('busReset', () => resolve()))
    await Promise.all([peer.ready, subscribed])
    let runs = 0
    const load = cache.cache({ namespace: 'load', ttlSeconds: 60 })(
      async (n: number) => `here:${n}:${++runs}`,
    )

    expect(await load(1)).toBe('here:1:1')
    expect(await load(2)).toBe('here:2:2')
    // The peer reads both from Redis and keeps L1 copies.
    expect(await peer.send({ op: 'call', n: 1 })).toBe('here:1:1')
    expect(await peer.send({ op: 'call', n: 2 })).toBe('here:2:2')
    const before = (await peer.send<{ busMessage: number }>({ op: 'events' })).busMessage

    const evicted = Date.now()
    expect(await load.evict(1)).toBe(true)
    for (;;) {
      if ((await peer.send({ op: 'peek', n: 1 })) === null) break
      expect(Date.now() - evicted).toBeLessThan(BUS_BOUND_MS)
      await sleep(5)
    }
    expect((await peer.send<{ busMessage: number }>({ op: 'events' })).busMessage).toBeGreaterThan(before)
    expect(await peer.send({ op: 'peek', n: 2 })).toBe('here:2:2') // the other entry stays
    // The peer computes 1 again, and this process sees the peer's value.
    expect(await peer.send({ op: 'call', n: 1 })).toBe('peer:1:1')
    expect(await peer.send({ op: 'evict', n: 2 })).toBe(true)
    expect(await load.evict(2)).toBe(false)
  })
})
