import assert from 'node:assert/strict'
import type { CacheRule } from '../rules/contract.js'
import { LRUEvict } from '../rules/lru.js'
import { MaxItemsEvict } from '../rules/max-items.js'
import { TinyLFUEvict } from '../rules/tinylfu.js'
import type { CaseContext, ConformanceCache } from './cache-cases.js'
import type { TestRunner } from './runner.js'

/**
 * `n` pseudo-random CJK characters (U+4E00 to U+5DFF) drawn from `seed`: 3 bytes each in UTF-8 and 12
 * bits of randomness each, so no compressor gets one below 1.5 bytes. A value of `noise(n)` is stored in
 * 1.5n to 3n + 64 bytes on every storage, compressed, encrypted or estimated in memory.
 */
function noise(n: number, seed: number): string {
  let state = (seed * 2654435761 + 1) >>> 0
  const units = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    units[i] = 0x4e00 + (state >>> 20)
  }
  return String.fromCharCode(...units)
}

/**
 * Conformance cases of byte budgets (`maxBytes` on the bounded rules), through a `Cache`. A storage
 * without `supportsByteBounds` must refuse them with a `ConfigurationError` at construction. Sizes
 * differ by storage (serialized bytes on shared ones, an estimate in memory), so the cases check the
 * budget against the sizes the storage reports in `stats().bytes`, and use values whose size is
 * within a known range everywhere, compressed or not (see `noise`).
 */
export function byteBudgetCases({ it }: TestRunner, { makeCache }: CaseContext): void {
  /** A cache with `rules`, or undefined when the storage refuses byte budgets (as it must if it lacks them). */
  const budgeted = async (rules: CacheRule[]): Promise<ConformanceCache | undefined> => {
    const probe = await makeCache()
    if (probe.storage.supportsBounds && probe.storage.supportsByteBounds === true) return makeCache(rules)
    await assert.rejects(makeCache(rules), { code: 'ERR_CACHEADO_CONFIGURATION' })
    return undefined
  }
  const u = (orgId: string, userId: string) => ({ scope: 'user', orgId, userId }) as const
  const bytesOf = async (cache: ConformanceCache): Promise<number> => {
    const bytes = (await cache.stats()).bytes
    assert.ok(bytes !== undefined, 'stats().bytes is reported under a byte budget')
    return bytes.total
  }

  it('maxBytes: 0, negative, fractional, NaN, Infinity or not a number is refused at construction', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100', 2 ** 60]) {
      for (const Rule of [LRUEvict, MaxItemsEvict, TinyLFUEvict]) {
        assert.throws(() => new Rule({ maxBytes: maxBytes as number }), {
          code: 'ERR_CACHEADO_CONFIGURATION',
          message: /maxBytes must be a positive integer/,
        })
      }
    }
    assert.throws(() => new LRUEvict({}), {
      code: 'ERR_CACHEADO_CONFIGURATION',
      message: /maxItems, maxBytes or both/,
    })
    assert.throws(() => new LRUEvict({ maxItems: 3, sizeOf: () => 1 }), {
      code: 'ERR_CACHEADO_CONFIGURATION',
    })
    assert.throws(() => new LRUEvict({ maxBytes: 3, sizeOf: 'x' as never }), {
      code: 'ERR_CACHEADO_CONFIGURATION',
    })
    return Promise.resolve()
  })

  it('LRUEvict({ maxBytes }) keeps the stored bytes within the budget, evicting the least recently used', async () => {
    const cache = await budgeted([new LRUEvict({ maxBytes: 2000 })])
    if (cache === undefined) return
    const value = (i: number) => noise(200, i) // 300 to 664 bytes: at most 6 fit, at least 3
    for (let i = 0; i < 30; i++) {
      await cache.set(`k${i}`, value(i))
      if (i >= 1) assert.equal(await cache.get('k0'), value(0), 'k0 is used at every step, so it stays')
      assert.equal(await cache.get(`k${i}`), value(i), 'the entry just written is kept')
      const total = await bytesOf(cache)
      assert.ok(total > 0 && total <= 2000, `${total} bytes held, budget 2000`)
    }
    const stats = await cache.stats()
    assert.ok(
      stats.totalKeys !== undefined && stats.totalKeys >= 3 && stats.totalKeys <= 6,
      String(stats.totalKeys),
    )
    assert.equal(stats.evictionsByReason.lru, 30 - stats.totalKeys)
    await cache.clear()
    assert.equal(await bytesOf(cache), 0)
  })

  it('an entry larger than the budget is refused with EntryTooLargeError and changes nothing', async () => {
    const cache = await budgeted([new MaxItemsEvict({ maxBytes: 1000 })])
    if (cache === undefined) return
    await cache.set('a', 'small')
    await cache.set('b', 'small too')
    const before = await bytesOf(cache)
    await assert.rejects(
      cache.set('a', noise(2000, 1)),
      (error: Error & { code?: string; size?: number }) => {
        assert.equal(error.code, 'ERR_CACHEADO_ENTRY_TOO_LARGE')
        assert.match(error.message, /1000-byte budget/)
        assert.ok(error.size !== undefined && error.size >= 2000)
        return true
      },
    )
    assert.equal(await cache.get('a'), 'small', 'the refused write left the stored entry as it was')
    assert.equal(await cache.get('b'), 'small too', 'nothing was evicted to make room')
    assert.equal(await bytesOf(cache), before)
    // multi-byte UTF-8: 700 UTF-16 units (under the budget if a storage counted units), but at least
    // 1050 bytes however compressed, 2100 serialized and estimated
    await assert.rejects(cache.set('c', noise(700, 2)), { code: 'ERR_CACHEADO_ENTRY_TOO_LARGE' })
    await cache.set('c', noise(200, 3)) // 300 to 664 bytes: fits
    assert.equal(await cache.get('c'), noise(200, 3))
    assert.equal((await cache.stats()).evictions, 0)
  })

  it('a larger overwrite evicts other entries, never itself; a smaller one frees bytes', async () => {
    const cache = await budgeted([new MaxItemsEvict({ maxBytes: 1200 })])
    if (cache === undefined) return
    for (const [i, k] of ['a', 'b', 'c'].entries()) await cache.set(k, noise(100, i)) // 150-364 bytes each
    await cache.set('a', noise(300, 9)) // 450-964 bytes; 'a' is the oldest: its own place must not be what goes
    assert.equal(await cache.get('a'), noise(300, 9))
    assert.ok((await bytesOf(cache)) <= 1200)
    const large = await bytesOf(cache)
    await cache.set('a', 'a')
    assert.ok((await bytesOf(cache)) < large)
  })

  it('per-scope byte quotas: one noisy user cannot evict another; stats list the tenants by bytes', async () => {
    const cache = await budgeted([
      new LRUEvict({ maxBytes: 1500, per: 'user' }),
      new LRUEvict({ maxItems: 1000 }),
    ])
    if (cache === undefined) return
    await cache.set('quiet', noise(100, 0), u('o2', 'u2')) // 150-364 bytes
    for (let i = 0; i < 40; i++) await cache.set(`n${i}`, noise(150, i + 1), u('o1', 'u1')) // 225-514: 2 to 6 fit in 1500
    assert.equal(await cache.get('quiet', u('o2', 'u2')), noise(100, 0))
    const bytes = (await cache.stats()).bytes!
    assert.equal(bytes.top[0]!.scope[0]!.id, 'o1', 'the noisy tenant holds the most bytes')
    assert.ok(bytes.top[0]!.bytes <= 1500, `${bytes.top[0]!.bytes} bytes for o1/u1, quota 1500`)
    const quiet = bytes.top.find((t) => t.scope[0]?.id === 'o2')
    assert.ok(quiet !== undefined && quiet.bytes >= 150)
    assert.equal(
      bytes.total,
      bytes.top.reduce((sum, t) => sum + t.bytes, 0),
    )
    await cache.set('g', 'global', { scope: 'global' })
    assert.equal(
      await cache.get('g', { scope: 'global' }),
      'global',
      'entries outside the per level are not bounded',
    )
    await cache.evictByScope('user', { orgId: 'o1', userId: 'u1' })
    const after = (await cache.stats()).bytes!
    assert.equal(
      after.top.find((t) => t.scope[0]?.id === 'o1'),
      undefined,
    )
  })

  it('a memoized result larger than the budget is returned, not stored, and reported as an error event', async () => {
    const cache = await budgeted([new LRUEvict({ maxBytes: 1000 })])
    if (cache === undefined) return
    const errors: unknown[] = []
    cache.on('error', (error) => errors.push(error))
    let runs = 0
    const big = cache.cache({ ttlSeconds: 60, namespace: 'big' })(async (n: number) => {
      runs++
      return noise(n, n)
    })
    assert.equal(await big(5000), noise(5000, 5000))
    assert.equal(await big(5000), noise(5000, 5000))
    assert.equal(runs, 2, 'the result was not stored')
    assert.equal(errors.length, 2)
    assert.equal((errors[0] as { code?: string }).code, 'ERR_CACHEADO_ENTRY_TOO_LARGE')
    assert.equal(await big(10), noise(10, 10))
    assert.equal(await big(10), noise(10, 10))
    assert.equal(runs, 3, 'a result within the budget is stored')
  })
}
