/**
 * Fault behaviour against a redis-server of our own, started, stopped and restarted by this file:
 * direct operations reject with a StorageError within about the command timeout, memoized calls fail
 * open, nothing hangs, no unhandled rejection, and the cache recovers without a restart.
 */
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cache, StorageError, TimeoutError } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { startRedis, stopRedis } from '../support/redis-server.js'
import { freePort, redisUrl, uniqueName, sleep } from '../support/services.js'
import { scopes } from './conformance.js'

const TIMEOUT_MS = 300

/** Time a promise takes to settle, and its error (if any). */
async function settle(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = performance.now()
  try {
    await promise
    return { ms: performance.now() - start, error: undefined }
  } catch (error) {
    return { ms: performance.now() - start, error }
  }
}

describe.skipIf(redisUrl === undefined)(
  'RedisStorage faults (own redis-server, killed and restarted)',
  () => {
    let port = 0
    let server: ChildProcess | undefined
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)

    beforeAll(async () => {
      process.on('unhandledRejection', onUnhandled)
      port = await freePort()
      server = await startRedis(port)
    })

    afterAll(async () => {
      if (server) await stopRedis(server)
      process.off('unhandledRejection', onUnhandled)
    })

    it('rejects within the timeout while Redis is down, fails open when memoized, and recovers', async () => {
      const storage = new RedisStorage({
        url: `redis://127.0.0.1:${port}`,
        prefix: uniqueName('faults'),
        commandTimeoutMs: TIMEOUT_MS,
      })
      const cache = new Cache({ scopes, storage })
      const events: unknown[] = []
      cache.on('error', (error) => events.push(error))
      let calls = 0
      const load = cache.cache({ namespace: 'load', ttlSeconds: 60 })(async (id: string) => {
        calls++
        return `loaded ${id}`
      })
      try {
        await cache.set('k', 'v', { scope: 'user', orgId: 'o', userId: 'u' })
        expect(await cache.get('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe('v')
        expect(await load('a')).toBe('loaded a')

        await stopRedis(server!)
        server = undefined

        // Direct operations reject with a StorageError (with cause) within about the timeout.
        const ops: [string, () => Promise<unknown>][] = [
          ['get', () => cache.get('k', { scope: 'user', orgId: 'o', userId: 'u' })],
          ['set', () => cache.set('k2', 1)],
          ['evict', () => cache.evict('k2')],
          ['evictByScope', () => cache.evictByScope('organization', { orgId: 'o' })],
          ['clear', () => cache.clear()],
        ]
        for (const [name, run] of ops) {
          const { ms, error } = await settle(run())
          expect(error, name).toBeInstanceOf(StorageError)
          expect((error as StorageError).cause, name).toBeInstanceOf(Error)
          expect(ms, name).toBeLessThan(3 * TIMEOUT_MS)
        }
        // stats() answers what it knows: the counters, with the entry count unknown (an error event).
        const eventsBefore = events.length
        const stats = await cache.stats()
        expect(stats.totalKeys).toBeUndefined()
        expect(stats).toMatchObject({ storageType: 'redis', sets: 2, hits: 1 })
        expect(events.slice(eventsBefore)).toEqual([expect.any(StorageError)])
        // Many at once: all settle, none hangs.
        const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => settle(cache.get(`b${i}`))))
        expect(burst.every((r) => r.error instanceof StorageError && r.ms < 3 * TIMEOUT_MS)).toBe(true)

        // A memoized call still returns the function's result, and the failure is reported as an event.
        const before = calls
        const { ms, error } = await settle(load('b'))
        expect(error).toBeUndefined()
        expect(ms).toBeLessThan(TIMEOUT_MS) // the connection is known to be lost: no timeout is paid
        expect(await load('c')).toBe('loaded c')
        expect(calls).toBeGreaterThan(before)
        expect(events.length).toBeGreaterThan(0)
        expect(events.every((e) => e instanceof StorageError)).toBe(true)

        // Redis comes back on the same port: the same cache works again, no restart.
        server = await startRedis(port)
        const deadline = Date.now() + 10_000
        let recovered = false
        while (!recovered && Date.now() < deadline) {
          recovered = await cache.set('again', 1).then(
            () => true,
            () => false,
          )
          if (!recovered) await sleep(100)
        }
        expect(recovered).toBe(true)
        expect(await cache.get('again')).toBe(1)
        expect(await load('d')).toBe('loaded d')
        expect(await load('d')).toBe('loaded d')
        expect((await cache.stats()).totalKeys).toBe(2) // the data of the killed server is gone
      } finally {
        await cache.close()
      }
      await sleep(50)
      expect(unhandled).toEqual([])
    })

    it('a slow server (DEBUG SLEEP) makes operations time out instead of hanging', async () => {
      const storage = new RedisStorage({
        url: `redis://127.0.0.1:${port}`,
        prefix: uniqueName('slow'),
        commandTimeoutMs: TIMEOUT_MS,
      })
      const cache = new Cache({ scopes, storage })
      cache.on('error', () => undefined)
      const admin = new Redis({ port, host: '127.0.0.1' })
      try {
        await cache.set('k', 1)
        const sleeping = admin.call('DEBUG', 'SLEEP', '1')
        await sleep(20)
        const { ms, error } = await settle(cache.get('k'))
        // One typed error for every timeout, naming the operation and the limit.
        expect(error).toBeInstanceOf(TimeoutError)
        expect((error as TimeoutError).message).toContain(`within commandTimeoutMs (${TIMEOUT_MS} ms)`)
        expect((error as TimeoutError).storageType).toBe('redis')
        expect(ms).toBeLessThan(3 * TIMEOUT_MS)
        // A lone write, and a bus message published through the storage's client, time out alike.
        const written = await settle(cache.set('w', 2))
        expect(written.error).toBeInstanceOf(TimeoutError)
        expect(written.ms).toBeLessThan(3 * TIMEOUT_MS)
        const bus = storage.createBus()
        const published = await settle(
          bus.publish({ origin: 'faults', invalidation: { kind: 'scope', path: [] } }),
        )
        expect(published.error).toBeInstanceOf(TimeoutError)
        expect(published.ms).toBeLessThan(3 * TIMEOUT_MS)
        await bus.close()
        const memo = cache.cache({ namespace: 'slow' })(async () => 'computed')
        expect(await memo()).toBe('computed')
        await sleeping
        expect(await cache.get('k')).toBe(1)
      } finally {
        await admin.quit()
        await cache.close()
      }
      await sleep(50)
      expect(unhandled).toEqual([])
    })

    it('a cache created while Redis is down rejects quickly, then works once Redis is up', async () => {
      const downPort = await freePort()
      const cache = new Cache({
        scopes,
        storage: new RedisStorage({
          url: `redis://127.0.0.1:${downPort}`,
          prefix: uniqueName('late'),
          commandTimeoutMs: TIMEOUT_MS,
        }),
      })
      let late: ChildProcess | undefined
      try {
        const { ms, error } = await settle(cache.get('k'))
        expect(error).toBeInstanceOf(StorageError)
        expect(ms).toBeLessThan(3 * TIMEOUT_MS)
        late = await startRedis(downPort)
        const deadline = Date.now() + 10_000
        let ok = false
        while (!ok && Date.now() < deadline) {
          ok = await cache.set('k', 1).then(
            () => true,
            () => false,
          )
          if (!ok) await sleep(100)
        }
        expect(ok).toBe(true)
        expect(await cache.get('k')).toBe(1)
      } finally {
        await cache.close()
        if (late) await stopRedis(late)
      }
      expect(unhandled).toEqual([])
    })
  },
)
