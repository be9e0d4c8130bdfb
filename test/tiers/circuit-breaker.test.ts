/**
 * The circuit breaker around the shared storage, in one process. Faults are injected by a wrapper over
 * a real RedisStorage (a failing flag: a fault a healthy server will not produce on demand); the real
 * outage (Redis killed and restarted) is in processes.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CircuitCloseInfo, CircuitOpenInfo, EntryRef, StorageProvider } from '../../src/index.js'
import { Cache, InvalidArgumentError, SerializationError, StorageError } from '../../src/index.js'
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

describe('circuit breaker: a probe that throws, and bad input', () => {
  it('a half-open probe that throws synchronously re-opens the circuit instead of jamming it', async () => {
    const events: string[] = []
    const breaker = new CircuitBreaker(
      'redis',
      { failureThreshold: 2, openSeconds: 0.05 },
      { onOpen: () => events.push('open'), onClose: () => events.push('close') },
    )
    for (let i = 0; i < 2; i++) {
      await expect(breaker.run('get', () => Promise.reject(new Error('down')))).rejects.toThrow('down')
    }
    expect(breaker.isOpen).toBe(true)
    // Each mode of failure, in turn: a synchronous throw never escapes `run` and never jams the probe.
    for (const thrown of [new Error('sync throw'), new TypeError('not a function')]) {
      await sleep(60)
      const probe = breaker.run('get', () => {
        throw thrown
      })
      await expect(probe).rejects.toBe(thrown)
      expect(breaker.isOpen).toBe(true) // re-opened, not half-open with a probe "under way" forever
    }
    await sleep(60)
    expect(await breaker.run('get', () => Promise.resolve('back'))).toBe('back')
    expect(breaker.isOpen).toBe(false)
    expect(events).toEqual(['open', 'open', 'open', 'close'])
    // Closed: a synchronous throw is a counted failure too, and is a rejection.
    const thrown = (): Promise<never> => {
      throw new Error('sync while closed')
    }
    await expect(breaker.run('get', thrown)).rejects.toThrow('sync while closed')
    await expect(breaker.run('get', thrown)).rejects.toThrow('sync while closed')
    expect(breaker.isOpen).toBe(true)
  })

  it('bad input wrapped anywhere in the cause chain, or a Redis error reply, does not count', async () => {
    const events: string[] = []
    const breaker = new CircuitBreaker(
      'redis',
      { failureThreshold: 1 },
      { onOpen: () => events.push('open'), onClose: () => events.push('close') },
    )
    const reply = Object.assign(new Error('ERR value is not an integer or out of range'), {
      name: 'ReplyError',
    })
    const bad = [
      new InvalidArgumentError('ttlSeconds too large'),
      new StorageError('mongodb', 'set', new SerializationError('too deeply nested')),
      new Error('redis://127.0.0.1:6379: ERR value is not an integer', { cause: reply }),
      Object.assign(new Error('cannot encode'), { name: 'BSONError' }),
    ]
    for (const error of bad) {
      await expect(breaker.run('set', () => Promise.reject(error))).rejects.toBe(error)
    }
    expect(events).toEqual([])
    const oom = Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'"), {
      name: 'ReplyError',
    })
    await expect(breaker.run('set', () => Promise.reject(new Error('x', { cause: oom })))).rejects.toThrow()
    expect(events).toEqual(['open'])
  })
})

describe.skipIf(redisUrl === undefined)('circuit breaker: one caller’s bad input on a real Redis', () => {
  it('never opens the circuit for the other callers', async () => {
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('cbbad') }),
      local: { circuitBreaker: { failureThreshold: 2, openSeconds: 30 } },
    })
    const opened: CircuitOpenInfo[] = []
    cache.on('circuitOpen', (info) => opened.push(info))
    cache.on('error', () => undefined)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    try {
      const hostile: (() => Promise<unknown>)[] = [
        () => cache.set('ttl', 1, { ttlSeconds: 1e16 }), // finite, accepted up front, refused by Redis
        () => cache.set('cycle', cycle),
        () => cache.set('fn', () => 1),
        () => cache.set('big', 10n),
        () => cache.set('\ud800', 1), // a lone surrogate
      ]
      // Each in a row, more often than the threshold: refused (or, for a BigInt, stored: msgpack has
      // them), but none may open the circuit.
      for (const run of hostile) for (let i = 0; i < 3; i++) await run().catch(() => undefined)
      expect(opened).toEqual([])
      await cache.set('fine\u0000\u001b[31m', 'still served') // control characters are a valid key
      expect(await cache.get('fine\u0000\u001b[31m')).toBe('still served')
      await cache.clear()
    } finally {
      await cache.close()
    }
  })
})
