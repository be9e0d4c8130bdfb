/**
 * Tags on Redis (src/storage/redis/labels.ts), standalone and Cluster: what the conformance cases cannot
 * see from outside. Invalidations in batches (a scope inside a tenant with more tagged entries than a
 * batch examines), no label key left behind by any kind of removal, bounds and tags together, and the
 * race of an invalidation with a fenced write of the same entry (50 rounds), and the invalidation that
 * publishes its bus message from its own last script.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { BoundPolicy, BusMessage, EntryRef, ScopePath, StorageContext } from '../../src/index.js'
import type { RedisClient } from '../../src/storage/redis/connection.js'
import { MISS } from '../../src/storage/contract.js'
import type { RedisStorage } from '../../src/redis.js'
import { redisInternals } from '../../src/storage/redis/storage.js'
import { encodeEntryRef } from '../../src/storage/key-encoding.js'
import { redisTargets } from '../support/redis-targets.js'
import { sleep, uniqueName } from '../support/services.js'

const targets = redisTargets()
const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (o: string, u: string): ScopePath => [...org(o), { level: 'user', id: u }]
const ref = (scope: ScopePath, key = 'k'): EntryRef => ({ scope, key })
const tags = (...t: string[]) => ({ tags: t })

/** Counts the commands sent through `client`, by name (they still run on the real server). */
function countCommands(client: RedisClient): Map<string, number> {
  const counts = new Map<string, number>()
  const send = client.sendCommand.bind(client) as (command: { name: string }) => unknown
  ;(client as unknown as { sendCommand: (command: { name: string }) => unknown }).sendCommand = (command) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1)
    return send(command)
  }
  return counts
}

describe.skipIf(targets.length === 0).each(targets)('RedisStorage tags ($name)', (redis) => {
  const open: RedisStorage[] = []
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((s) => s.evictScope([]).finally(() => s.close())))
  })
  const storage = (context: Partial<StorageContext> = {}) => {
    const s = redis.storage(uniqueName('tags'))
    s.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false, ...context })
    open.push(s)
    return s
  }
  /** Whether any label key (ZSET per label, SET per entry) of the tenant `orgId` is left. */
  const labelKeys = async (s: RedisStorage, orgId: string, labels: string[], refs: EntryRef[]) => {
    const client = redisInternals.client(s)
    const base = `${s.prefix}:{organization=${orgId}/}:`
    const keys = [...labels.map((l) => `${base}t:${l}`), ...refs.map((r) => `${base}g:${encodeEntryRef(r)}`)]
    let found = 0
    for (const key of keys) found += await client.exists(key)
    return found
  }

  it('invalidateTagsAndPublish: the removal publishes its message from its last script, once every entry is gone (no extra PUBLISH)', async () => {
    const s = storage()
    const inside = Array.from({ length: 2300 }, (_, i) => ref(user('p', 'u1'), `in${i}`))
    const writes = inside.map((r, i) => s.set(r, i, undefined, tags('big')))
    writes.push(s.set(ref(user('p', 'u2'), 'other'), 'kept', undefined, tags('small')))
    await Promise.all(writes)
    const receiver = s.createBus()
    const heard: BusMessage[] = []
    // What a receiver reads when the message arrives (it drops its L1 copies and reads again).
    const readOnArrival: Promise<unknown>[] = []
    receiver.subscribe({
      origin: 'receiver',
      onMessage: (message) => {
        heard.push(message)
        readOnArrival.push(s.get(inside[0]!), s.get(inside[2299]!))
      },
      onReset: () => undefined,
      onError: () => undefined,
    })
    try {
      const probe: BusMessage = { origin: 'sender', invalidation: { kind: 'entries', refs: [ref(org('x'))] } }
      const sender = s.createBus()
      for (let i = 0; i < 100 && heard.length === 0; i++) {
        await sender.publish(probe)
        await sleep(50)
      }
      expect(heard.length).toBeGreaterThan(0)
      await sleep(50)
      heard.length = 0
      readOnArrival.length = 0
      const counts = countCommands(redisInternals.client(s))
      const message: BusMessage = { origin: 'sender', invalidation: { kind: 'scope', path: user('p', 'u1') } }
      expect(await s.invalidateTagsAndPublish(['big'], user('p', 'u1'), message)).toBe(2300)
      expect(counts.get('publish') ?? 0).toBe(0)
      expect(counts.get('evalsha')).toBe(2) // two batches, one message
      for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(20)
      await sleep(100)
      expect(heard.map((m) => m.invalidation)).toEqual([message.invalidation])
      expect(await Promise.all(readOnArrival)).toEqual([MISS, MISS])
      expect(await s.get(ref(user('p', 'u2'), 'other'))).toBe('kept')
    } finally {
      await receiver.close()
    }
  })

  it('a scope inside a tenant is invalidated over several batches, the rest of the tenant kept', async () => {
    const s = storage()
    const inside = Array.from({ length: 2300 }, (_, i) => ref(user('o', 'u1'), `in${i}`))
    const outside = Array.from({ length: 1700 }, (_, i) => ref(user('o', 'u2'), `out${i}`))
    // Interleaved, so that kept and removed members alternate in the label's ZSET.
    const writes: Promise<void>[] = []
    for (let i = 0; i < 2300; i++) {
      writes.push(s.set(inside[i]!, i, undefined, tags('big', i % 2 === 0 ? 'even' : 'odd')))
      if (i < 1700) writes.push(s.set(outside[i]!, i, undefined, tags('big')))
    }
    await Promise.all(writes)
    expect(await s.invalidateTags(['big', 'even'], user('o', 'u1'))).toBe(2300)
    expect(await s.get(inside[7]!)).toBe(MISS)
    expect(await s.get(outside[7]!)).toBe(7)
    expect(await s.size()).toBe(1700)
    expect(await s.invalidateTags(['big'], org('o'))).toBe(1700)
    expect(await s.size()).toBe(0)
    expect(await labelKeys(s, 'o', ['big', 'even', 'odd'], [inside[0]!, inside[1]!, outside[0]!])).toBe(0)
  }, 60_000)

  it('delete, scope eviction, rewrite, expiry (sweep) and invalidation leave no label key behind', async () => {
    const s = storage({ sweepIntervalMs: 50 })
    const a = ref(user('o', 'u'), 'a')
    const b = ref(user('o', 'u'), 'b')
    const c = ref(org('o'), 'c')
    await s.set(a, 1, undefined, tags('x', 'y'))
    await s.set(b, 2, undefined, tags('x'))
    await s.set(c, 3, undefined, tags('x'))
    expect(await labelKeys(s, 'o', ['x', 'y'], [a, b, c])).toBe(5)
    await s.set(a, 1, undefined) // rewritten without tags
    expect(await s.delete(b)).toBe(true)
    expect(await labelKeys(s, 'o', ['y'], [a, b])).toBe(0)
    expect(await s.evictScope(org('o'))).toBe(2)
    expect(await labelKeys(s, 'o', ['x'], [c])).toBe(0)
    // Expired: Redis drops the value itself; the sweeper removes the label traces with the index member.
    await s.set(a, 1, 30, tags('x'))
    await sleep(300)
    expect(await labelKeys(s, 'o', ['x'], [a])).toBe(0)
  })

  it('bound victims leave their labels; an invalidation frees places in the bounds', async () => {
    const bounds: BoundPolicy[] = [
      { order: 'insertion', maxItems: 2, reason: 'maxItems' },
      { order: 'lru', maxItems: 1, per: 'user', reason: 'lru' },
    ]
    const evicted: string[] = []
    const s = storage({ bounds, onEvicted: (reason, count) => evicted.push(`${reason}:${count}`) })
    await s.set(ref(user('o', 'u1'), 'a'), 1, undefined, tags('x'))
    await s.set(ref(user('o', 'u2'), 'b'), 2, undefined, tags('x'))
    await s.set(ref(user('o', 'u3'), 'c'), 3, undefined, tags('x'))
    expect(evicted).toEqual(['maxItems:1'])
    expect(await labelKeys(s, 'o', [], [ref(user('o', 'u1'), 'a')])).toBe(0)
    expect(await s.invalidateTags(['x'], [])).toBe(2)
    expect(await s.size()).toBe(0)
    // The bounds' places were freed: two new entries fit without evicting anything.
    await s.set(ref(user('o', 'u4'), 'd'), 4, undefined)
    await s.set(ref(user('o', 'u5'), 'e'), 5, undefined)
    expect(evicted).toEqual(['maxItems:1'])
  })

  it('race: an invalidation and a fenced write of the same entry never leave the value behind (50 rounds)', async () => {
    const s = storage()
    const other = redis.storage(s.prefix)
    other.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    open.push(other)
    let stored = 0
    for (let round = 0; round < 50; round++) {
      const a = ref(user('o', 'u'), `r${round}`)
      const fence = await s.fence(a)
      const scope = round % 3 === 0 ? [] : round % 3 === 1 ? org('o') : user('o', 'u')
      const [wrote] = await Promise.all([
        (async () => {
          await sleep(round % 4)
          return s.setFenced(a, 'computed before', undefined, fence, undefined, tags('x'))
        })(),
        (async () => {
          await sleep((round * 7) % 4)
          return other.invalidateTags(['x'], scope)
        })(),
      ])
      if (wrote) stored++
      expect(await s.get(a)).toBe(MISS)
    }
    expect(stored).toBeLessThan(50)
  }, 60_000)
})
