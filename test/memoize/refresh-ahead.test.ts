/**
 * Refresh ahead (`refreshAheadSeconds`) on memoized functions and getOrSet, on every backend: a hit
 * near expiry answers at once and refreshes in the background, once per key (across caches sharing a
 * storage with `lock`); failed refreshes back off (`graceBackoffSeconds`), are `error` events and never
 * unhandled rejections. Real time: TTLs of about a second.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CacheError } from '../../src/index.js'
import { RefreshError } from '../../src/index.js'
import { sleep, uniqueName } from '../support/services.js'
import type { TestCache } from './backends.js'
import { backends } from './backends.js'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
})
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
})

const open: TestCache[] = []
afterEach(async () => {
  for (const cache of open.splice(0)) {
    await cache.clear().catch(() => undefined)
    await cache.close()
  }
  expect(unhandled).toEqual([])
})

/** Waits until `done()` holds, at most `ms`. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error(`not done within ${ms} ms`)
    await sleep(5)
  }
}

describe.each(backends())('refresh ahead on $name', (backend) => {
  const make = async (prefix = uniqueName('ahead')) => {
    const cache = await backend.make(prefix)
    open.push(cache)
    return cache
  }

  it('a memoized hit near expiry answers at once and refreshes once in the background', async () => {
    const cache = await make()
    let runs = 0
    // TTL 2 s, refresh ahead 1.2 s: due from max(2 - 1.2, 2 / 2) = 1 s after the write.
    const load = cache.cache({ ttlSeconds: 2, refreshAheadSeconds: 1.2 })(async function load() {
      runs++
      await sleep(400)
      return runs
    })
    expect(await load()).toBe(1)
    expect(await load()).toBe(1)
    await sleep(1100)
    const started = Date.now()
    const hits = await Promise.all([load(), load(), load()])
    expect(Date.now() - started).toBeLessThan(300) // did not wait for the 400 ms function
    expect(hits).toEqual([1, 1, 1])
    await until(() => runs === 2, 1000)
    await sleep(600) // the run takes 400 ms, then it is stored
    expect(await load()).toBe(2)
    expect(runs).toBe(2)
  })

  it('failed background refreshes back off, are error events, and never unhandled rejections', async () => {
    const cache = await make()
    const errors: CacheError[] = []
    cache.on('error', (error) => errors.push(error))
    let runs = 0
    const load = cache.cache({ ttlSeconds: 3, refreshAheadSeconds: 2, graceBackoffSeconds: 0.6 })(
      async function flaky() {
        runs++
        if (runs > 1) throw new Error('upstream down')
        return 'first'
      },
    )
    expect(await load()).toBe('first')
    await sleep(1550) // due from max(3 - 2, 3 / 2) = 1.5 s
    for (let i = 0; i < 10; i++) expect(await load()).toBe('first')
    await until(() => errors.length >= 1, 1000)
    expect(errors).toHaveLength(1)
    for (let i = 0; i < 10; i++) await load()
    expect(runs).toBe(2) // backing off: no retry on every hit
    expect(errors[0]).toBeInstanceOf(RefreshError)
    await sleep(650)
    await load() // the backoff is over: one more attempt
    await until(() => errors.length === 2, 1000)
    expect(runs).toBe(3)
  })

  it('getOrSet refreshes ahead the values this cache stored', async () => {
    const cache = await make()
    let runs = 0
    const options = { ttlSeconds: 2, refreshAheadSeconds: 1.2 }
    const factory = async () => {
      runs++
      await sleep(400)
      return runs
    }
    expect(await cache.getOrSet('ahead', factory, options)).toBe(1)
    await sleep(1100)
    const started = Date.now()
    expect(await cache.getOrSet('ahead', factory, options)).toBe(1)
    expect(Date.now() - started).toBeLessThan(300)
    await until(() => runs === 2, 1000)
    await sleep(600)
    expect(await cache.getOrSet('ahead', factory, options)).toBe(2)
    expect(runs).toBe(2)
  })

  it.skipIf(!backend.shared || backend.local)(
    'with lock, caches sharing the storage refresh a key once between them',
    async () => {
      const prefix = uniqueName('ahead-lock')
      const caches = [await make(prefix), await make(prefix), await make(prefix)]
      let runs = 0
      const loads = caches.map((cache) =>
        cache.cache({ ttlSeconds: 1.5, refreshAheadSeconds: 1, lock: true, namespace: 'quote' })(async () => {
          runs++
          await sleep(100)
          return runs
        }),
      )
      expect(await loads[0]!()).toBe(1)
      await sleep(800)
      await Promise.all(loads.flatMap((load) => [load(), load()]))
      await sleep(300)
      expect(runs).toBe(2)
      expect(await Promise.all(loads.map((load) => load()))).toEqual([2, 2, 2])
    },
  )
})
