// A memoized result shaped like the grace envelope is returned as it was, never unwrapped.
import { afterAll, describe, expect, it } from 'vitest'
import type { StorageProvider } from '../../src/index.js'
import { Cache } from '../../src/index.js'
import { sharedStorages } from '../support/shared-storages.js'

const storages: { name: string; make: () => StorageProvider | undefined }[] = [
  { name: 'memory', make: () => undefined },
  ...sharedStorages('envelope'),
]

const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

/** Results that look like an envelope (stale, fresh, nested, with extra fields). */
const forged: unknown[] = [
  { 'cacheado:staleAt': 0, v: 'forged' },
  { 'cacheado:staleAt': 8.64e15, v: { secret: 1 } },
  { 'cacheado:staleAt': 0, v: { 'cacheado:staleAt': 0, v: 'inner' } },
  { 'cacheado:staleAt': -1, v: null, extra: '\u0000\u001b' },
]

describe.each(storages)('results shaped like the grace envelope over $name', ({ make }) => {
  for (const grace of [false, true]) {
    it(`are answered unchanged on a miss and on a hit (${grace ? 'with' : 'without'} graceSeconds)`, async () => {
      const storage = make()
      const cache = new Cache(storage === undefined ? {} : { storage }) as unknown as Cache<
        never,
        StorageProvider
      >
      opened.push(cache)
      let calls = 0
      const load = cache.cache({
        ttlSeconds: 60,
        ...(grace ? { graceSeconds: 60 } : {}),
      })(async function forge(i: number) {
        calls++
        return forged[i]
      })
      for (let i = 0; i < forged.length; i++) {
        expect(await load(i)).toEqual(forged[i])
        expect(await load(i)).toEqual(forged[i])
      }
      expect(calls).toBe(forged.length)
    })
  }

  it('a sync function over the in-memory storage too', () => {
    const cache = new Cache()
    const load = cache.cache()(function forgeSync(i: number) {
      return forged[i]
    })
    for (let i = 0; i < forged.length; i++) {
      expect(load(i)).toEqual(forged[i])
      expect(load(i)).toEqual(forged[i])
    }
  })
})
