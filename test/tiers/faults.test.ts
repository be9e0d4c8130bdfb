/**
 * Two tiers under faults, on a redis-server of this file's own (stalled with DEBUG SLEEP, flushed):
 * - a write or removal that times out but lands anyway still drops the other processes' copies;
 * - a start right after a fresh or flushed Redis emits no error and serves no stale copy;
 * - a copy never outlives the entry's TTL, even when the event loop is blocked after the write.
 */
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Bus, EntryRef, StorageProvider } from '../../src/index.js'
import { Cache, MISS, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { RedisBus, RedisStorage } from '../../src/redis.js'
import { TieredStorage } from '../../src/tiers/tiered-storage.js'
import type { TierListener } from '../../src/tiers/tiered-storage.js'
import { startRedis, stopRedis } from '../support/redis-server.js'
import { freePort, redisUrl, sleep, uniqueName } from '../support/services.js'
import { until } from './fixtures/processes.js'

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const
const o2 = { scope: 'user', orgId: 'o2', userId: 'u1' } as const
/** Command timeout of the writers: shorter than the stall, so their commands time out, then land. */
const TIMEOUT_MS = 150
const STALL_SECONDS = 0.5
/** How long a change may take to reach another L1 once Redis answers again. */
const BUS_BOUND_MS = 1000

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
let port = 0
let server: ChildProcess | undefined
let url = ''
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  if (redisUrl === undefined) return
  port = await freePort()
  server = await startRedis(port)
  url = `redis://127.0.0.1:${port}`
})
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  if (server) await stopRedis(server)
  expect(unhandled).toEqual([])
})

/** A cache with a local tier on `prefix`, once its bus is subscribed. */
async function tiered(prefix: string, timeoutMs = 1000): Promise<Cache<typeof scopes, RedisStorage>> {
  const cache = new Cache({
    scopes,
    storage: new RedisStorage({ url, prefix, commandTimeoutMs: timeoutMs }),
    local: { circuitBreaker: false },
  })
  let subscribed = false
  cache.on('busReset', () => (subscribed = true))
  await until(async () => subscribed, 5000)
  return cache
}

/** Settles `promise`: its error, or undefined. */
const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  )

describe.skipIf(redisUrl === undefined)('a write or removal that times out but lands anyway', () => {
  it('still drops the copies of the other processes (writer with and without a local tier)', async () => {
    const prefix = uniqueName('landed')
    const reader = await tiered(prefix)
    const writer = await tiered(prefix, TIMEOUT_MS)
    const plain = new Cache({
      scopes,
      storage: new RedisStorage({ url, prefix, commandTimeoutMs: TIMEOUT_MS }),
    })
    const admin = new Redis(url)
    const errors: unknown[] = []
    for (const cache of [writer, plain]) cache.on('error', (error) => errors.push(error))
    let received = 0
    reader.on('busMessage', () => received++)
    const keys = ['w1', 'w2', 'd1', 'p1', 'p2', 'pd']
    try {
      for (const key of keys) await writer.set(key, 'old', u1)
      await writer.set('s', 'old', o2)
      await until(async () => received === keys.length + 1, BUS_BOUND_MS)
      for (const key of keys) expect(await reader.get(key, u1)).toBe('old') // copies in the reader's L1
      expect(await reader.get('s', o2)).toBe('old')

      const sleeping = admin.call('DEBUG', 'SLEEP', String(STALL_SECONDS))
      await sleep(20)
      const outcomes = await Promise.all([
        // Two concurrent writes: the first publishes from its script, the second in a message of its own.
        failure(writer.set('w1', 'new', u1)),
        failure(writer.set('w2', 'new', u1)),
        failure(writer.evict('d1', u1)),
        failure(writer.evictByScope('organization', { orgId: 'o2' })),
        failure(plain.set('p1', 'new', u1)),
        failure(plain.set('p2', 'new', u1)),
        failure(plain.evict('pd', u1)),
      ])
      for (const outcome of outcomes) expect(String(outcome)).toMatch(/timed out/i)
      await sleeping // the stall is over: every command above lands now
      // The reader ends up serving what Redis holds (a timed-out command may or may not have
      // landed: a scope eviction of several steps may stop after its first).
      const landed = { w1: 'new', w2: 'new', d1: undefined, p1: 'new', p2: 'new', pd: undefined }
      for (const key of keys) {
        const held = await plain.get(key, u1)
        expect(held).toBe(landed[key as keyof typeof landed])
        await until(async () => (await reader.get(key, u1)) === held, BUS_BOUND_MS)
      }
      const held = await plain.get('s', o2)
      await until(async () => (await reader.get('s', o2)) === held, BUS_BOUND_MS)
    } finally {
      await admin.quit()
      for (const cache of [reader, writer, plain]) await cache.close()
    }
  }, 20_000)
})

const quiet: TierListener = {
  busMessage: () => undefined,
  busReset: () => undefined,
  circuitOpen: () => undefined,
  circuitClose: () => undefined,
  error: () => undefined,
}

describe.skipIf(redisUrl === undefined)('a start right after a fresh or flushed Redis', () => {
  it('keeps no copy until its bus confirmed the subscription (a slow subscription)', async () => {
    const prefix = uniqueName('slowsub')
    const redis = new RedisStorage({ url, prefix })
    const behind = new RedisStorage({ url, prefix })
    behind.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const real = redis.createBus()
    let subscribe!: () => void
    // The real bus, its subscription held back until released: the start-up window, made long.
    const slow: Bus = {
      subscribe: (handlers) => (subscribe = () => real.subscribe(handlers)),
      publish: (message) => real.publish(message),
      close: () => real.close(),
    }
    let subscribed = false
    const tier = new TieredStorage(redis, { bus: slow }, { ...quiet, busReset: () => (subscribed = true) })
    tier.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const ref: EntryRef = { scope: [{ level: 'organization', id: 'o1' }], key: 'k' }
    try {
      await tier.set(ref, 'mine', undefined)
      await behind.set(ref, 'theirs', undefined) // a message this process could not have received
      expect(await tier.get(ref)).toBe('theirs')
      expect(tier.localSize).toBe(0)
      subscribe()
      await until(async () => subscribed, 5000)
      expect(await tier.get(ref)).toBe('theirs')
      expect(tier.localSize).toBe(1) // from now on copies are kept
      await tier.evictScope([])
    } finally {
      await tier.close()
      await behind.close()
    }
  })

  it('a flushed registry: messages still reach the receivers, and a renewal reports the loss', async () => {
    const channel = `${uniqueName('flush')}:bus`
    const clients = [new Redis(url), new Redis(url), new Redis(url)]
    const [a, sender] = clients.map((client) => new RedisBus({ client, channel })) as [RedisBus, RedisBus]
    const short = new RedisBus({ client: clients[2]!, channel, leaseMs: 600 })
    const received: string[] = []
    const resets: string[] = []
    a.subscribe({
      onMessage: (message) => received.push(message.origin),
      onReset: (reason) => resets.push(`a ${reason}`),
      onError: () => undefined,
      origin: 'a',
    })
    short.subscribe({
      onMessage: () => undefined,
      onReset: (reason) => resets.push(`short ${reason}`),
      onError: () => undefined,
      origin: 'short',
    })
    const admin = new Redis(url)
    try {
      await until(async () => resets.length === 2, 5000)
      await admin.flushall() // both registrations are gone; the receivers do not know
      await sender.publish({ origin: 'sender', invalidation: { kind: 'scope', path: [] } })
      await until(async () => received.length === 1, BUS_BOUND_MS) // through the shared channel
      // The short lease renews every 200 ms: it finds its registration gone and reports it.
      await until(async () => resets.includes('short registration lost'), 2000)
    } finally {
      for (const bus of [a, sender, short]) await bus.close()
      for (const client of clients) client.disconnect()
      await admin.quit()
    }
  })

  it('60 starts: no error event, and no stale copy served after another process’s write', async () => {
    const prefix = uniqueName('start')
    const admin = new Redis(url)
    // Long-lived: a writer without a local tier (it announces its writes).
    const writer = new Cache({ scopes, storage: new RedisStorage({ url, prefix }) })
    const errors: string[] = []
    const stale: string[] = []
    let earlyRuns = 0
    try {
      for (let run = 0; run < 60; run++) {
        await admin.flushall()
        const fresh = new Cache({ scopes, storage: new RedisStorage({ url, prefix }), local: {} })
        fresh.on('error', (error) => errors.push(`run ${run}: ${String(error)}`))
        let subscribed = false
        fresh.on('busReset', () => (subscribed = true))
        try {
          await fresh.set('k', `fresh ${run}`) // at once: before its bus may be subscribed
          expect(await fresh.get('k')).toBe(`fresh ${run}`)
          await writer.set('k', `writer ${run}`)
          // Within one bus hop, neither process may serve its copy from before the writer's write.
          // Not subscribed yet: no message can be on its way, the fresh process must read what Redis
          // holds at once. Subscribed: one bus hop later (its message has been handled).
          const early = !subscribed
          if (!early) await sleep(20)
          const seen = await fresh.get('k')
          if (seen !== `writer ${run}`)
            stale.push(`run ${run} (${early ? 'early' : 'late'}): ${String(seen)}`)
          if (early) earlyRuns++
          await until(async () => subscribed, 5000)
          await sleep(10)
        } finally {
          await fresh.close()
        }
      }
      expect(errors).toEqual([])
      expect(stale).toEqual([])
      expect(earlyRuns).toBeGreaterThanOrEqual(0) // how often the window before the subscription was hit
    } finally {
      await admin.quit()
      await writer.close()
    }
  }, 60_000) // each start waits for its bus, and the quiet period after its registration
})

/** Blocks the event loop for `ms` (a long synchronous task in the application). */
function block(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) {
    // busy
  }
}

describe.skipIf(redisUrl === undefined)('a copy never outlives the entry’s TTL', () => {
  it('even when the event loop is blocked between the write landing and its answer', async () => {
    const redis = new RedisStorage({ url, prefix: uniqueName('busy') })
    let blockMs = 0
    // The real write, then the application keeps the event loop busy before the answer is handled.
    const busy: StorageProvider = {
      storageType: redis.storageType,
      supportsBounds: true,
      attach: (context) => redis.attach(context),
      get: (ref) => redis.get(ref),
      getWithExpiry: async (ref) => {
        const found = await redis.getWithExpiry(ref)
        block(blockMs)
        return found
      },
      set: async (ref, value, ttlMs) => {
        await redis.set(ref, value, ttlMs)
        block(blockMs)
      },
      setAndPublish: async (ref, value, ttlMs, message) => {
        await redis.setAndPublish(ref, value, ttlMs, message)
        block(blockMs)
      },
      delete: (ref) => redis.delete(ref),
      evictScope: (path) => redis.evictScope(path),
      size: () => redis.size(),
      close: () => redis.close(),
      createBus: () => redis.createBus(),
    }
    let subscribed = false
    const tier = new TieredStorage(busy, {}, { ...quiet, busReset: () => (subscribed = true) })
    tier.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    try {
      await until(async () => subscribed, 5000)
      for (let i = 0; i < 4; i++) {
        const ref: EntryRef = { scope: [{ level: 'organization', id: 'o1' }], key: `k${i}` }
        // A lone write (published from its script) and two concurrent ones (plain set).
        const refs = i % 2 === 0 ? [ref] : [ref, { ...ref, key: `${ref.key}b` }]
        blockMs = 500
        const written = Date.now()
        await Promise.all(refs.map((r) => tier.set(r, 'v', 300)))
        blockMs = 0
        expect(Date.now() - written).toBeGreaterThanOrEqual(500)
        // 300 ms after the write was sent, the entry is gone from Redis: no copy may be served.
        for (const r of refs) expect(await tier.get(r)).toBe(MISS)
      }
      // A copy filled by a read keeps the expiry Redis reported, whatever the event loop does.
      const ref: EntryRef = { scope: [], key: 'read' }
      await redis.set(ref, 'r', 300)
      blockMs = 500
      expect(await tier.get(ref)).toBe('r') // the read itself answers what Redis had
      blockMs = 0
      expect(await tier.get(ref)).toBe(MISS)
    } finally {
      await tier.close()
    }
  }, 20_000)
})
