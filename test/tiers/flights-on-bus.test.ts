// Once a process has heard of another process's eviction (its `busMessage` event), none of its calls
// may get a value computed before that eviction: a memoized call started after the message must not
// join a computation of the evicted scope that was already running in this process. (Found by the
// model-based test: the joined flight's pre-eviction value was answered, though never stored.)
import { afterEach, describe, expect, it } from 'vitest'
import type { BusMessageInfo } from '../../src/index.js'
import { Cache } from '../../src/index.js'
import { redisTargets } from '../support/redis-targets.js'
import { sleep, uniqueName } from '../support/services.js'
import { until } from './fixtures/processes.js'

for (const target of redisTargets()) {
  describe(`running computations and the bus on ${target.name}`, () => {
    const open: { close(): Promise<void> }[] = []
    afterEach(async () => {
      await Promise.all(open.splice(0).map((cache) => cache.close()))
    })
    const twoTier = async (prefix: string) => {
      const resets: number[] = []
      const cache = new Cache({ storage: target.storage(prefix), local: { maxItems: 100, ttlSeconds: 60 } })
      cache.on('busReset', () => resets.push(Date.now()))
      open.push(cache)
      await until(async () => resets.length !== 0, 5000)
      return cache
    }

    for (const evict of ['evictByScope', 'clear'] as const) {
      it(`a call made after another process's ${evict} was heard does not join the running one`, async () => {
        for (let run = 0; run < 10; run++) {
          const prefix = uniqueName('flights')
          const a = await twoTier(prefix)
          const b = await twoTier(prefix)
          const heard: BusMessageInfo[] = []
          a.on('busMessage', (info) => heard.push(info))
          let computed = 0
          const load = a.cache({ namespace: 'load', scope: 'organization' })(async (args: {
            orgId: string
          }) => {
            const n = ++computed
            await sleep(n === 1 ? 150 : 0)
            return `${args.orgId}#${n}`
          })
          const first = load({ orgId: 'o1' }) // running: computed before the eviction
          await sleep(20)
          if (evict === 'clear') await b.clear()
          else await b.evictByScope('organization', { orgId: 'o1' })
          await until(async () => heard.length !== 0, 2000)
          const after = await load({ orgId: 'o1' })
          expect(after).toBe('o1#2')
          expect(await first).toBe('o1#1') // its own caller still gets it
          expect(await load({ orgId: 'o1' })).toBe('o1#2') // and it was never stored
          await Promise.all(open.splice(0).map((cache) => cache.close()))
        }
      })
    }
  })
}
