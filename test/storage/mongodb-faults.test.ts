/**
 * Fault behaviour against a FerretDB of our own (started, stopped and restarted by this file on the
 * same port and data folders): direct operations reject with a StorageError (cause attached) within
 * about the operation timeout, memoized calls fail open, nothing hangs, no unhandled rejection, and
 * the same cache recovers once the server is back.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheError } from '../../src/index.js'
import { Cache, LRUEvict, StorageError, TimeoutError } from '../../src/index.js'
import { MongoDBStorage, MongoDBTimeoutError } from '../../src/mongodb.js'
import { freePort, ferretdbBin, uniqueName, sleep } from '../support/services.js'
import { scopes } from './conformance.js'

const TIMEOUT_MS = 500

/** Starts FerretDB with the flags of scripts/test-services.sh and waits until it answers a ping. */
async function startFerretDB(bin: string, dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${join(dir, 'data')}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      `--state-dir=${join(dir, 'state')}`,
      '--log-level=error',
    ],
    { stdio: 'ignore' },
  )
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ferretdb exited with ${child.exitCode} during start-up`)
    const probe = new MongoClient(`mongodb://127.0.0.1:${port}`, { serverSelectionTimeoutMS: 300 })
    try {
      await probe.db('admin').command({ ping: 1 })
      return child
    } catch {
      await sleep(100)
    } finally {
      await probe.close()
    }
  }
  child.kill('SIGKILL')
  throw new Error('ferretdb did not answer a ping within 30 s')
}

/** Stops a server we started and waits until it has exited. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

describe.skipIf(!ferretdbBin)('MongoDBStorage faults (own FerretDB)', () => {
  let dir: string
  let port: number
  let server: ChildProcess | undefined
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled)
    dir = mkdtempSync(join(tmpdir(), 'cacheado-ferretdb-faults-'))
    mkdirSync(join(dir, 'data'))
    mkdirSync(join(dir, 'state'))
    port = await freePort()
    server = await startFerretDB(ferretdbBin!, dir, port)
  })

  afterAll(async () => {
    if (server !== undefined) await stop(server)
    rmSync(dir, { recursive: true, force: true })
    process.off('unhandledRejection', onUnhandled)
  })

  it('rejects within the timeout while the server is down, fails open when memoized, and recovers', async () => {
    const storage = new MongoDBStorage({
      url: `mongodb://127.0.0.1:${port}`,
      collectionName: uniqueName('faults'),
      operationTimeoutMs: TIMEOUT_MS,
      sweepIntervalMs: 50, // sweeps run (and fail quietly) during the outage
    })
    const cache = new Cache({ scopes, storage, rules: [new LRUEvict({ maxItems: 100 })] })
    const absorbed: CacheError[] = []
    cache.on('error', (error) => absorbed.push(error))
    let calls = 0
    const load = cache.cache({ namespace: 'load', scope: 'user' })(async (args: {
      orgId: string
      userId: string
    }) => {
      calls++
      return `loaded ${args.userId}`
    })
    const u1 = { scope: 'user', orgId: 'o', userId: 'u1' } as const
    try {
      await cache.set('k', 'before', u1)
      expect(await cache.get('k', u1)).toBe('before')
      expect(await load({ orgId: 'o', userId: 'u1' })).toBe('loaded u1')
      expect(calls).toBe(1)

      await stop(server!)
      server = undefined

      // Direct operations reject with a StorageError carrying the driver's (or our timeout's) error.
      for (const [name, operation] of [
        ['get', () => cache.get('k', u1)],
        ['set', () => cache.set('k', 'during', u1)],
        ['evict', () => cache.evict('k', u1)],
        ['evictByScope', () => cache.evictByScope('organization', { orgId: 'o' })],
      ] as const) {
        const started = Date.now()
        const error = await (operation as () => Promise<unknown>)().then(
          () => undefined,
          (e: unknown) => e,
        )
        const elapsed = Date.now() - started
        // The driver's failure (a StorageError with its cause), or our own operationTimeoutMs (a TimeoutError).
        if (!(error instanceof TimeoutError)) {
          expect(error, name).toBeInstanceOf(StorageError)
          expect((error as StorageError).cause, name).toBeDefined()
        }
        expect(elapsed, name).toBeLessThan(TIMEOUT_MS + 1000)
      }

      // stats() answers the counters; the entry count is unknown.
      const stats = await cache.stats()
      expect(stats.totalKeys).toBeUndefined()
      expect(stats.sets).toBeGreaterThan(0)

      // Memoized calls still answer, by calling the function; the cache reports what it absorbed.
      expect(await load({ orgId: 'o', userId: 'u2' })).toBe('loaded u2')
      expect(await load({ orgId: 'o', userId: 'u1' })).toBe('loaded u1')
      expect(calls).toBe(3)
      expect(absorbed.length).toBeGreaterThan(0)
      expect(absorbed.every((error) => error instanceof StorageError || error instanceof TimeoutError)).toBe(
        true,
      )

      // Many operations at once: every one settles, none hangs.
      const started = Date.now()
      const settled = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => cache.get(`k${i % 5}`, u1)),
      )
      expect(settled.every((result) => result.status === 'rejected')).toBe(true)
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500)
      const reasons = settled.map((result) => (result as PromiseRejectedResult).reason as unknown)
      // Our own timeout is the one TimeoutError (MongoDBTimeoutError is a subclass); the driver's are StorageErrors.
      expect(
        reasons.every((reason) => reason instanceof StorageError || reason instanceof TimeoutError),
      ).toBe(true)
      const timedOut = reasons.filter((reason) => reason instanceof MongoDBTimeoutError).length
      console.info(
        `[mongodb faults] 50 gets while down: ${timedOut} by our own timeout, the rest by the driver`,
      )

      // A cache created while the server is down fails the same way, and closes promptly.
      const late = new Cache({
        scopes,
        storage: new MongoDBStorage({
          url: `mongodb://127.0.0.1:${port}`,
          collectionName: uniqueName('faults'),
          operationTimeoutMs: TIMEOUT_MS,
        }),
      })
      const lateError = await late.set('k', 1).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(lateError instanceof StorageError || lateError instanceof TimeoutError, String(lateError)).toBe(
        true,
      )
      const closing = Date.now()
      await late.close()
      expect(Date.now() - closing).toBeLessThan(1000)

      await sleep(200) // let a few sweeps fail while the server is down

      // Back on the same port and data: the same cache works again, without being recreated.
      server = await startFerretDB(ferretdbBin!, dir, port)
      const back = Date.now()
      let value: unknown
      while (Date.now() - back < 15_000) {
        try {
          value = await cache.get('k', u1)
          break
        } catch {
          await sleep(100)
        }
      }
      console.info(`[mongodb faults] first successful read ${Date.now() - back} ms after the restart`)
      expect(value).toBe('before') // the SQLite data survived the restart
      await cache.set('k', 'after', u1)
      expect(await cache.get('k', u1)).toBe('after')
      const callsBefore = calls
      expect(await load({ orgId: 'o', userId: 'u1' })).toBe('loaded u1') // cached before the outage
      expect(calls).toBe(callsBefore)
      expect((await cache.stats()).totalKeys).toBe(2)
    } finally {
      await cache.close()
    }
    await sleep(100)
    expect(unhandled).toEqual([])
  }, 60_000)

  it('a server that stops answering (SIGSTOP) costs at most the timeout per operation, then recovers', async () => {
    const cache = new Cache({
      scopes,
      storage: new MongoDBStorage({
        url: `mongodb://127.0.0.1:${port}`,
        collectionName: uniqueName('faults'),
        operationTimeoutMs: TIMEOUT_MS,
      }),
    })
    let calls = 0
    const load = cache.cache({ namespace: 'load' })(async (id: string) => {
      calls++
      return `loaded ${id}`
    })
    try {
      await cache.set('k', 'v')
      server!.kill('SIGSTOP')
      try {
        const started = Date.now()
        const results = await Promise.allSettled([cache.get('k'), cache.set('k2', 1), cache.evict('other')])
        const elapsed = Date.now() - started
        const stats = await cache.stats() // answers the counters after the timeout, without the entry count
        expect(stats.totalKeys).toBeUndefined()
        expect(results.every((result) => result.status === 'rejected')).toBe(true)
        for (const result of results) {
          const reason = (result as PromiseRejectedResult).reason as StorageError
          // The server accepts bytes and never answers: our timeout fires (a TimeoutError naming the
          // operation and operationTimeoutMs), or the driver's connectTimeoutMS (same length) when the
          // operation needed a new connection (a StorageError); both are timeouts.
          if (reason instanceof TimeoutError) {
            expect(reason.message).toContain(`within operationTimeoutMs (${TIMEOUT_MS} ms)`)
          } else {
            expect(reason).toBeInstanceOf(StorageError)
            expect(/Timeout/.test((reason.cause as Error).name), String(reason.cause)).toBe(true)
          }
        }
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
        expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000)
        const memoStarted = Date.now()
        expect(await load('a')).toBe('loaded a') // fail-open: the function answers
        expect(Date.now() - memoStarted).toBeLessThan(2 * TIMEOUT_MS + 1000) // a read and a write, each bounded
      } finally {
        server!.kill('SIGCONT')
      }
      const back = Date.now()
      let value: unknown
      while (Date.now() - back < 15_000) {
        try {
          value = await cache.get('k')
          break
        } catch {
          await sleep(100)
        }
      }
      expect(value).toBe('v') // (a timed-out write may still be applied later: none touched 'k')
      expect(await load('b')).toBe('loaded b')
      expect(await load('b')).toBe('loaded b')
      expect(calls).toBe(2)
    } finally {
      await cache.close()
    }
    await sleep(100)
    expect(unhandled).toEqual([])
  }, 60_000)
})
