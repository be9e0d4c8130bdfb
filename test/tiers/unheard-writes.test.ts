/**
 * A process without a local tier announces its plain writes only while some process has a local tier
 * to tell (`Bus.receivers`, standalone Redis), and skipping them never leaves a stale copy: a receiver
 * that registers while a writer still trusts an older "no receivers" answer keeps nothing during its
 * quiet period (`BUS_RECEIVER_TIMING`). Real Redis, caches in one process with their own connections.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cache, type DefaultScopeConfig } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { BUS_RECEIVER_TIMING } from '../../src/storage/index.js'
import { redisUrl, sleep, uniqueName } from '../support/services.js'
import { until } from './fixtures/processes.js'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
})
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

/** A cache with a local tier on `prefix`, once copies may be kept (its `busReset` event). */
async function tiered(prefix: string): Promise<Cache<DefaultScopeConfig, RedisStorage>> {
  const cache = new Cache({
    storage: new RedisStorage({ url: redisUrl!, prefix }),
    local: { ttlSeconds: 60 },
  })
  let ready = false
  cache.on('busReset', () => (ready = true))
  await until(async () => ready, 5000)
  return cache
}

describe.skipIf(redisUrl === undefined)('writes of a process without a local tier', () => {
  it('are not announced while no process has a local tier, and are again once one has', async () => {
    const prefix = uniqueName('unheard')
    const listener = new Redis(redisUrl!)
    const heard: string[] = []
    listener.on('message', (_channel: string, text: string) => heard.push(text))
    await listener.subscribe(`${prefix}:bus`) // where a message goes while no receiver is registered
    const writer = new Cache({ storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      await writer.set('first', 0) // no answer yet: announced
      await sleep(50)
      for (let i = 0; i < 200; i++) await writer.set(`k${i % 10}`, i)
      await Promise.all(Array.from({ length: 100 }, (_, i) => writer.set(`c${i}`, i)))
      await sleep(50)
      expect(heard.length).toBeLessThanOrEqual(2)

      // Removals are always announced (a removal resolves once its message was accepted).
      const before = heard.length
      await writer.evict('k1')
      await until(async () => heard.length > before, 1000)

      const reader = await tiered(prefix)
      try {
        await writer.set('shared', 'v1')
        expect(await reader.get('shared')).toBe('v1') // now a copy in the reader's L1
        await writer.set('shared', 'v2')
        await until(async () => (await reader.get('shared')) === 'v2', 1000)
      } finally {
        await reader.close()
      }
    } finally {
      await writer.clear()
      await writer.close()
      await listener.quit()
    }
  })

  it('never leave a stale copy in a local tier that registered meanwhile (30 races)', async () => {
    const { quietMs, answerFreshMs } = BUS_RECEIVER_TIMING
    // Each race: a writer overwrites one key every few ms; a process with a local tier starts and
    // reads the key without pause; the writer stops within the time its last "no receivers" answer is
    // trusted. Once the last write resolved (and a bus delivery later), the reader must see it.
    const race = async (run: number): Promise<string> => {
      const prefix = uniqueName(`race${run}`)
      const writer = new Cache({ storage: new RedisStorage({ url: redisUrl!, prefix }) })
      let version = 0
      await writer.set('k', version)
      await sleep(20) // the writer's first answer ("no receivers") is in
      let writing = true
      const writes = (async () => {
        while (writing) {
          await writer.set('k', ++version)
          await sleep(2)
        }
      })()
      const reader = new Cache({
        storage: new RedisStorage({ url: redisUrl!, prefix }),
        local: { ttlSeconds: 60 },
      })
      let reading = true
      const reads = (async () => {
        while (reading) {
          await reader.get('k')
          await sleep(1)
        }
      })()
      try {
        await sleep(50 + ((run * 37) % answerFreshMs))
        writing = false
        await writes
        await sleep(quietMs + 100) // past the quiet period and a bus delivery
        reading = false
        await reads
        const seen = await reader.get('k')
        return seen === version ? 'ok' : `run ${run}: read ${String(seen)} after write ${version}`
      } finally {
        writing = false
        reading = false
        await Promise.all([writes, reads])
        await writer.clear()
        await Promise.all([writer.close(), reader.close()])
      }
    }
    const outcomes: string[] = []
    for (let batch = 0; batch < 3; batch++) {
      outcomes.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => race(batch * 10 + i)))))
    }
    expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual([])
  }, 30_000)
})
