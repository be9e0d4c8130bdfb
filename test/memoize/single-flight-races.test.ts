// Single flight over async storages: callers whose storage read started before a flight finished share
// its outcome, a rejection included, instead of running the function again.
import { afterAll, describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath, StorageContext, StorageProvider } from '../../src/index.js'
import { Cache, InMemory } from '../../src/index.js'
import { sharedStorages } from '../support/shared-storages.js'
import { sleep } from '../support/services.js'

/** The real in-memory store behind reads that each take a random 0-30 ms (a slow, jittery network). */
class JitteryReads implements StorageProvider {
  readonly storageType = 'jittery'
  readonly supportsBounds = false
  readonly #store = new InMemory()
  attach(context: StorageContext): void {
    this.#store.attach(context)
  }
  async get(ref: EntryRef): Promise<unknown> {
    const value = this.#store.sync.get(ref)
    await sleep(Math.random() * 30)
    return value
  }
  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    this.#store.sync.set(ref, value, ttlMs)
  }
  async delete(ref: EntryRef): Promise<boolean> {
    return this.#store.sync.delete(ref)
  }
  async evictScope(path: ScopePath): Promise<number> {
    return this.#store.sync.evictScope(path)
  }
  async size(): Promise<number> {
    return this.#store.sync.size()
  }
  async close(): Promise<void> {}
}

const storages: { name: string; make: () => StorageProvider }[] = [
  { name: 'jittery reads', make: () => new JitteryReads() },
  ...sharedStorages('flight'),
]

const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

describe.each(storages)('single flight over $name', ({ make }) => {
  it('50 same-tick callers of a function that rejects run it once and all get its rejection', async () => {
    const cache = new Cache({ storage: make() })
    opened.push(cache as never)
    let calls = 0
    const load = cache.cache()(async function failing(round: number): Promise<number> {
      calls++
      await sleep(5)
      throw new Error(`down in round ${round}`)
    })
    for (let round = 0; round < 5; round++) {
      calls = 0
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => load(round)))
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true)
      expect(new Set(outcomes.map((o) => (o as PromiseRejectedResult).reason))).toHaveLength(1)
      expect(calls).toBe(1)
    }
    // A caller that starts after the failure runs the function again.
    calls = 0
    await expect(load(0)).rejects.toThrow('down in round 0')
    expect(calls).toBe(1)
  }, 20_000)

  it('50 same-tick callers of a function that resolves run it once', async () => {
    const cache = new Cache({ storage: make() })
    opened.push(cache as never)
    let calls = 0
    const load = cache.cache()(async function working(round: number): Promise<number> {
      calls++
      await sleep(5)
      return round
    })
    for (let round = 0; round < 5; round++) {
      calls = 0
      const values = await Promise.all(Array.from({ length: 50 }, () => load(round)))
      expect(values).toEqual(Array.from({ length: 50 }, () => round))
      expect(calls).toBe(1)
    }
  }, 20_000)
})
