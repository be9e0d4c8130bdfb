/**
 * Fenced writes through two tiers (issue 11, item 1): `TieredStorage` has `fence`/`setFenced` exactly
 * when its shared storage has them, passes them through (the breaker included), fills its L1 only if
 * the shared storage stored the value, and publishes its message in the same step.
 *
 * The first suite gives a real Redis a fence of the simplest kind (a generation bumped by every
 * scope eviction through it), to check the pass-through alone; the second uses RedisStorage's own
 * fence, once it has one, across two caches on one prefix.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { BusMessage, BusMessageInfo, EntryRef, StorageProvider } from '../../src/index.js'
import type { WriteFence } from '../../src/storage/contract.js'
import { MISS } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { PublishingStorage } from '../../src/tiers/publishing-storage.js'
import { TieredStorage } from '../../src/tiers/tiered-storage.js'
import type { TierListener } from '../../src/tiers/tiered-storage.js'
import { redisUrl, sleep, uniqueName } from '../support/services.js'
import { until } from './fixtures/processes.js'

const org: EntryRef['scope'] = [{ level: 'organization', id: 'o\u0000{1}' }]
const ref: EntryRef = { scope: [...org, { level: 'user', id: 'u\n1' }], key: 'k\u001b' }

/** A tier over `shared`, attached; resolves once its bus is subscribed. */
async function tier(shared: StorageProvider, overrides: Partial<TierListener> = {}) {
  const messages: BusMessageInfo[] = []
  let subscribed = false
  const tiered = new TieredStorage(
    shared,
    { circuitBreaker: { failureThreshold: 2, openSeconds: 30 } },
    {
      busMessage: (info) => messages.push(info),
      busReset: () => (subscribed = true),
      circuitOpen: () => undefined,
      circuitClose: () => undefined,
      error: () => undefined,
      ...overrides,
    },
  )
  tiered.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
  await until(async () => subscribed, 5000)
  return { tiered, messages }
}

/** What the fenced stand-in saw. */
interface Seen {
  fences: number
  writes: { stored: boolean; message: BusMessage | undefined }[]
  failing: boolean
}

/**
 * A real RedisStorage with a stand-in fence: a generation (shared by the storages made with the same
 * `state`) bumped by every scope eviction; `setFenced` stores only if it did not move.
 */
function fenced(redis: RedisStorage, state: { generation: number }, seen: Seen): StorageProvider {
  return {
    storageType: redis.storageType,
    supportsBounds: true,
    attach: (context) => redis.attach(context),
    get: (r) => redis.get(r),
    getWithExpiry: (r) => redis.getWithExpiry(r),
    set: (r, value, ttlMs) => redis.set(r, value, ttlMs),
    setAndPublish: (r, value, ttlMs, message) => redis.setAndPublish(r, value, ttlMs, message),
    delete: (r) => redis.delete(r),
    evictScope: async (path) => {
      state.generation++
      return redis.evictScope(path)
    },
    size: () => redis.size(),
    close: () => redis.close(),
    createBus: () => redis.createBus(),
    fence: async () => {
      seen.fences++
      if (seen.failing) throw new Error('injected fault: connection refused')
      return { generation: state.generation }
    },
    setFenced: async (r, value, ttlMs, fence: WriteFence, message) => {
      const stored = (fence as { generation: number }).generation === state.generation
      seen.writes.push({ stored, message })
      if (!stored) return false
      await (message === undefined
        ? redis.set(r, value, ttlMs)
        : redis.setAndPublish(r, value, ttlMs, message))
      return true
    },
  }
}

/** A real RedisStorage (with its bus) seen through a provider that has no fence. */
function withoutFence(redis: RedisStorage): StorageProvider {
  const {
    fence: _fence,
    setFenced: _setFenced,
    ...rest
  } = fenced(
    redis,
    { generation: 0 },
    {
      fences: 0,
      writes: [],
      failing: false,
    },
  )
  return rest
}

describe.skipIf(redisUrl === undefined)('fenced writes through two tiers (stand-in fence on Redis)', () => {
  const open: TieredStorage[] = []
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close()
  })

  it('are present only when the shared storage has both methods', async () => {
    const plain = await tier(
      withoutFence(new RedisStorage({ url: redisUrl!, prefix: uniqueName('nofence') })),
    )
    open.push(plain.tiered)
    expect(plain.tiered.fence).toBeUndefined()
    expect(plain.tiered.setFenced).toBeUndefined()
    const seen: Seen = { fences: 0, writes: [], failing: false }
    const redis = new RedisStorage({ url: redisUrl!, prefix: uniqueName('fence') })
    const withFence = await tier(fenced(redis, { generation: 0 }, seen))
    open.push(withFence.tiered)
    expect(typeof withFence.tiered.fence).toBe('function')
    expect(typeof withFence.tiered.setFenced).toBe('function')
  })

  it('fill L1 only if stored, publish with the write, and refuse after an eviction elsewhere', async () => {
    const prefix = uniqueName('fence')
    const state = { generation: 0 }
    const seenA: Seen = { fences: 0, writes: [], failing: false }
    const a = await tier(fenced(new RedisStorage({ url: redisUrl!, prefix }), state, seenA))
    const b = await tier(
      fenced(new RedisStorage({ url: redisUrl!, prefix }), state, { fences: 0, writes: [], failing: false }),
    )
    open.push(a.tiered, b.tiered)

    // Stored: A keeps a copy, its message left with the write (one step), B drops its copy.
    await b.tiered.set(ref, 'b', undefined)
    expect(await b.tiered.get(ref)).toBe('b') // B's copy
    // B's message about its write reaches A first (arriving during A's write, it would rightly keep
    // A from filling its L1).
    await until(async () => a.messages.length !== 0, 1000)
    let fence = await a.tiered.fence!(ref)
    expect(await a.tiered.setFenced!(ref, 'computed', 60_000, fence)).toBe(true)
    expect(seenA.writes.at(-1)!.message).toEqual({
      origin: a.tiered.origin,
      invalidation: { kind: 'entries', refs: [ref] },
    })
    expect(a.tiered.localSize).toBe(1)
    await until(async () => (await b.tiered.get(ref)) === 'computed', 1000)

    // Refused: an eviction in another process since the fence. No copy, nothing published.
    fence = await a.tiered.fence!(ref)
    await b.tiered.evictScope(org)
    const messagesAtB = b.messages.length
    expect(await a.tiered.setFenced!(ref, 'computed before the eviction', 60_000, fence)).toBe(false)
    expect(a.tiered.localSize).toBe(0)
    expect(await a.tiered.get(ref)).toBe(MISS)
    await sleep(30)
    expect(b.messages.length).toBe(messagesAtB)

    // Concurrent fenced writes: the first fused, the others in one message of their own; all reach B.
    const refs = Array.from({ length: 5 }, (_, i) => ({ ...ref, key: `${ref.key}${i}` }))
    for (const r of refs) await b.tiered.set(r, 'old', undefined)
    for (const r of refs) expect(await b.tiered.get(r)).toBe('old')
    fence = await a.tiered.fence!(ref)
    const stored = await Promise.all(refs.map((r) => a.tiered.setFenced!(r, 'new', undefined, fence)))
    expect(stored).toEqual([true, true, true, true, true])
    expect(seenA.writes.slice(-5).filter((w) => w.message !== undefined)).toHaveLength(1)
    for (const r of refs) await until(async () => (await b.tiered.get(r)) === 'new', 1000)
    await a.tiered.evictScope([])
  })

  it('a local invalidation during the fenced write keeps it out of L1; the fence goes through the breaker', async () => {
    const prefix = uniqueName('fence')
    const seen: Seen = { fences: 0, writes: [], failing: false }
    const redis = new RedisStorage({ url: redisUrl!, prefix })
    const shared = fenced(redis, { generation: 0 }, seen)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow: StorageProvider = {
      ...shared,
      setFenced: async (...args) => {
        const stored = await shared.setFenced!(...args)
        await held
        return stored
      },
    }
    const a = await tier(slow)
    open.push(a.tiered)
    const fence = await a.tiered.fence!(ref)
    const writing = a.tiered.setFenced!(ref, 'v', undefined, fence)
    await sleep(10)
    await a.tiered.delete(ref) // lands between the write and its answer
    release()
    expect(await writing).toBe(true)
    expect(a.tiered.localSize).toBe(0)

    seen.failing = true
    await expect(a.tiered.fence!(ref)).rejects.toThrow(/injected fault/)
    await expect(a.tiered.fence!(ref)).rejects.toThrow(/injected fault/)
    const calls = seen.fences
    await expect(a.tiered.fence!(ref)).rejects.toThrow(/circuit open/)
    expect(seen.fences).toBe(calls) // refused without calling the storage
  })
})

describe.skipIf(redisUrl === undefined)('fenced writes of a cache without a local tier', () => {
  it('pass through the publishing wrapper, with its message only when stored', async () => {
    const prefix = uniqueName('pfence')
    const state = { generation: 0 }
    const seen: Seen = { fences: 0, writes: [], failing: false }
    const wrapper = new PublishingStorage(
      fenced(new RedisStorage({ url: redisUrl!, prefix }), state, seen),
      () => undefined,
    )
    wrapper.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const b = await tier(
      fenced(new RedisStorage({ url: redisUrl!, prefix }), state, { fences: 0, writes: [], failing: false }),
    )
    try {
      await b.tiered.set(ref, 'b', undefined)
      let fence = await wrapper.fence!(ref)
      expect(await wrapper.setFenced!(ref, 'computed', undefined, fence)).toBe(true)
      expect(seen.writes.at(-1)!.message?.invalidation).toEqual({ kind: 'entries', refs: [ref] })
      await until(async () => (await b.tiered.get(ref)) === 'computed', 1000)
      fence = await wrapper.fence!(ref)
      await wrapper.evictScope(org)
      expect(await wrapper.setFenced!(ref, 'stale', undefined, fence)).toBe(false)
      await until(async () => (await b.tiered.get(ref)) === MISS, 1000) // the eviction's message
      await sleep(30)
      expect(await b.tiered.get(ref)).toBe(MISS)
    } finally {
      await wrapper.close()
      await b.tiered.close()
    }
  })
})

const hasFence = typeof (RedisStorage.prototype as Partial<StorageProvider>).setFenced === 'function'

describe.skipIf(redisUrl === undefined || !hasFence)(
  'fenced writes through two tiers (RedisStorage’s fence)',
  () => {
    it('a fence taken before an eviction in another process refuses the write, in every L1', async () => {
      const prefix = uniqueName('rfence')
      const a = await tier(new RedisStorage({ url: redisUrl!, prefix }))
      const b = await tier(new RedisStorage({ url: redisUrl!, prefix }))
      try {
        for (let run = 0; run < 10; run++) {
          const fence = await a.tiered.fence!(ref)
          expect(await b.tiered.evictScope(run % 2 === 0 ? org : [])).toBeGreaterThanOrEqual(0)
          expect(await a.tiered.setFenced!(ref, `stale ${run}`, undefined, fence)).toBe(false)
          expect(await a.tiered.get(ref)).toBe(MISS)
          expect(await b.tiered.get(ref)).toBe(MISS)
          expect(a.tiered.localSize).toBe(0)
          const fresh = await a.tiered.fence!(ref)
          expect(await a.tiered.setFenced!(ref, `fresh ${run}`, undefined, fresh)).toBe(true)
          await until(async () => (await b.tiered.get(ref)) === `fresh ${run}`, 1000)
        }
        await a.tiered.evictScope([])
      } finally {
        await a.tiered.close()
        await b.tiered.close()
      }
    })
  },
)
