import assert from 'node:assert/strict'
import type { CaseContext } from './cache-cases.js'
import { sleep } from './cache-cases.js'
import type { TestRunner } from './runner.js'

/** How many concurrent first writes the first-write cases race. */
const WRITERS = 10
/** Rounds of the eviction-during-computation cases (each a fresh race). */
const ROUNDS = 12

const org = (orgId: string) => ({ scope: 'organization', orgId }) as const

/**
 * The cases on computations in flight: concurrent first computations of a brand-new tenant all store
 * (none is silently dropped), and `evict(key)` detaches a running computation of that key, so that a
 * value computed before the eviction is never stored after it resolved (getOrSet and memoized calls,
 * also after an `evictByScope` emptied the tenant).
 */
export function flightCases(runner: TestRunner, ctx: CaseContext): void {
  const { it } = runner
  const { makeCache } = ctx

  it('concurrent getOrSet misses of distinct keys in a brand-new tenant and at global all store', async () => {
    const cache = await makeCache()
    const keys = Array.from({ length: WRITERS }, (_, i) => `a${i}`)
    await Promise.all(keys.map((key, i) => cache.getOrSet(key, async () => i)))
    assert.deepEqual(await Promise.all(keys.map((key) => cache.get(key))), [...keys.keys()])
    await Promise.all(keys.map((key, i) => cache.getOrSet(key, async () => i, org('new'))))
    assert.deepEqual(await Promise.all(keys.map((key) => cache.get(key, org('new')))), [...keys.keys()])
    await Promise.all(
      keys.map((key, i) => cache.getOrSet(key, async () => i, { ...org('ttl'), ttlSeconds: 60 })),
    )
    assert.deepEqual(await Promise.all(keys.map((key) => cache.get(key, org('ttl')))), [...keys.keys()])
  })

  it('concurrent memoized misses of distinct keys in a brand-new tenant and at global all store', async () => {
    const cache = await makeCache()
    const globalFn = cache.cache({ ttlSeconds: 60 })(async function atGlobal(i: number) {
      return i
    })
    const scopedFn = cache.cache({ scope: 'organization' })(async function perOrg(
      _: { orgId: string },
      i: number,
    ) {
      return i
    })
    const ids = Array.from({ length: WRITERS }, (_, i) => i)
    await Promise.all(ids.map((i) => globalFn(i)))
    await Promise.all(ids.map((i) => scopedFn({ orgId: 'new' }, i)))
    assert.deepEqual(await Promise.all(ids.map((i) => globalFn.peek(i))), ids)
    assert.deepEqual(await Promise.all(ids.map((i) => scopedFn.peek({ orgId: 'new' }, i))), ids)
  })

  it('evict(key) detaches a running getOrSet of that key: its value is not stored after', async () => {
    const cache = await makeCache()
    for (let round = 0; round < ROUNDS; round++) {
      let version = 1
      const key = `k${round}`
      const running = cache.getOrSet(
        key,
        async () => {
          const seen = version
          await sleep(Math.random() * 4)
          return seen
        },
        org('A'),
      )
      await sleep(Math.random() * 8)
      version = 2
      await cache.evict(key, org('A'))
      await running
      const stored = await cache.get(key, org('A'))
      assert.notEqual(stored, 1, `round ${round}: a value computed before evict(key) was stored after it`)
    }
  })

  it('fn.evict(...args) detaches a running call, also after evictByScope emptied the tenant', async () => {
    const cache = await makeCache()
    let version = 1
    const fn = cache.cache({ scope: 'organization', ttlSeconds: 60 })(async function versioned(
      _: { orgId: string },
      _key: string,
    ) {
      const seen = version
      await sleep(Math.random() * 4)
      return seen
    })
    await cache.set('warm', 1, org('A'))
    for (let round = 0; round < 2 * ROUNDS; round++) {
      version = 1
      const running = fn({ orgId: 'A' }, `k${round}`)
      await sleep(Math.random() * 8)
      version = 2
      if (round % 2 === 1) await fn.evict({ orgId: 'A' }, `k${round}`)
      else await cache.evictByScope('organization', { orgId: 'A' })
      await running
      const stored = await fn.peek({ orgId: 'A' }, `k${round}`)
      assert.notEqual(stored, 1, `round ${round}: a value computed before the eviction was stored after it`)
    }
  })
}
