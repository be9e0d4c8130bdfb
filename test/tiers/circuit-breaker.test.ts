/**
 * The circuit breaker around the shared storage, in one process. Faults are injected by a wrapper over
 * a real RedisStorage (a failing flag: a fault a healthy server will not produce on demand); the real
 * outage (Redis killed and restarted) is in processes.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CircuitCloseInfo, CircuitOpenInfo, EntryRef, StorageProvider } from '../../src/index.js'
import { Cache, SerializationError, StorageError } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { CircuitBreaker } from '../../src/tiers/circuit-breaker.js'
import { redisUrl, sleep, uniqueName } from '../support/services.js'

/** Forwards to `redis`, counting calls; while `state.failing`, every call rejects. */
function flaky(redis: RedisStorage, state: { failing: boolean; calls: number }): StorageProvider {
  const guard =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      state.calls++
      return state.failing ? Promise.reject(new Error('injected fault: connection refused')) : run(...args)
    }
  return {
    storageType: 'redis',
    supportsBounds: true,
    attach: (context) => redis.attach(context),
    get: guard((ref: EntryRef) => redis.get(ref)),
    getWithExpiry: guard((ref: EntryRef) => redis.getWithExpiry(ref)),
    set: guard((ref: EntryRef, value: unknown, ttlMs: number | undefined) => redis.set(ref, value, ttlMs)),
    delete: guard((ref: EntryRef) => redis.delete(ref)),
    evictScope: guard((path: EntryRef['scope']) => redis.evictScope(path)),
    size: guard(() => redis.size()),
    close: () => redis.close(),
    createBus: () => redis.createBus(),
  }
}

describe.skipIf(redisUrl === undefined)('circuit breaker around the shared storage', () => {
  const open: Cache[] = []
  afterEach(async () => {
    for (const cache of open.splice(0)) await cache.close()
  })

  it('opens after repeated failures, fails fast, keeps serving L1, probes, closes and empties L1', async () => {
    const state = { failing: false, calls: 0 }
    const storage = flaky(new RedisStorage({ url: redisUrl!, prefix: uniqueName('cb') }), state)
    const cache = new Cache({
      storage,
      local: { circuitBreaker: { failureThreshold: 3, openSeconds: 0.2 } },
    })
    open.push(cache as unknown as Cache)
    const opened: CircuitOpenInfo[] = []
    const closed: CircuitCloseInfo[] = []
    const resets: string[] = []
    cache.on('circuitOpen', (info) => opened.push(info))
    cache.on('circuitClose', (info) => closed.push(info))
    cache.on('busReset', (info) => resets.push(info.reason))
    while (resets.length === 0) await sleep(5) // subscribed: its reset will not drop the copy below
    await cache.set('k', 'v')

    state.failing = true
    for (let i = 0; i < 3; i++) await expect(cache.get(`miss${i}`)).rejects.toBeInstanceOf(StorageError)
    expect(opened).toHaveLength(1)
    expect(opened[0]).toMatchObject({ storageType: 'redis', failures: 3, retryInMs: 200 })
    const calls = state.calls
    await expect(cache.set('x', 1)).rejects.toThrow(/circuit open/)
    await expect(cache.evictByScope('organization', { orgId: 'o' })).rejects.toBeInstanceOf(StorageError)
    expect(state.calls).toBe(calls) // refused without calling the storage
    expect(await cache.get('k')).toBe('v') // the L1 copy is still served
    // A memoized call falls back to its function while the circuit is open.
    const errors: unknown[] = []
    cache.on('error', (error) => errors.push(error))
    const double = cache.cache({ namespace: 'double' })(async (n: number) => n * 2)
    expect(await double(21)).toBe(42)
    expect(errors.length).toBeGreaterThan(0)

    await sleep(220)
    // Half-open: the probe fails, the circuit opens again.
    await expect(cache.get('miss')).rejects.toThrow(/injected fault/)
    expect(opened).toHaveLength(2)
    expect(opened[1]!.failures).toBe(1)
    await expect(cache.get('miss')).rejects.toThrow(/circuit open/)

    state.failing = false
    await sleep(220)
    expect(await cache.get('miss')).toBeUndefined() // the probe succeeds: closed
    expect(closed).toHaveLength(1)
    expect(closed[0]!.openForMs).toBeGreaterThanOrEqual(400)
    expect(resets.at(-1)).toBe('circuit closed')
    // L1 was emptied: k is read from Redis again (same value, but the copy is new).
    const before = state.calls
    expect(await cache.get('k')).toBe('v')
    expect(state.calls).toBe(before + 1)
    await cache.clear()
  })

  it('errors that say nothing about the storage do not count', async () => {
    const events: string[] = []
    const breaker = new CircuitBreaker(
      'redis',
      { failureThreshold: 1 },
      { onOpen: () => events.push('open'), onClose: () => events.push('close') },
    )
    await expect(
      breaker.run('set', () => Promise.reject(new SerializationError('cannot store a function'))),
    ).rejects.toBeInstanceOf(SerializationError)
    expect(breaker.isOpen).toBe(false)
    await expect(breaker.run('get', () => Promise.reject(new Error('down')))).rejects.toThrow('down')
    expect(breaker.isOpen).toBe(true)
    expect(events).toEqual(['open'])
  })

  it('circuitBreaker: false calls the storage every time', async () => {
    const state = { failing: true, calls: 0 }
    const storage = flaky(new RedisStorage({ url: redisUrl!, prefix: uniqueName('cb') }), state)
    const cache = new Cache({ storage, local: { circuitBreaker: false, bus: false } })
    open.push(cache as unknown as Cache)
    for (let i = 0; i < 10; i++) await expect(cache.get('k')).rejects.toThrow(/injected fault/)
    expect(state.calls).toBe(10)
  })
})
