import assert from 'node:assert/strict'
import { LRUEvict } from '../rules/lru.js'
import type { CaseContext } from './cache-cases.js'
import type { TestRunner } from './runner.js'

const org = (orgId: string) => ({ scope: 'organization', orgId }) as const

/**
 * Fair share on a cache-wide bound (`fairness: 'per-<level>'`): a storage with `supportsFairness`
 * evicts from the tenant holding the most entries, in its own order; any other storage must refuse the
 * bound at construction with a `ConfigurationError`.
 */
export function fairnessCases({ it }: TestRunner, { makeCache }: CaseContext): void {
  it('a fair bound evicts from the tenant holding the most entries where supported, else is refused', async () => {
    const rules = [new LRUEvict({ maxItems: 6, fairness: 'per-organization' })]
    const probe = await makeCache()
    if (probe.storage.supportsFairness !== true) {
      await assert.rejects(makeCache(rules), { code: 'ERR_CACHEADO_CONFIGURATION' })
      return
    }
    const cache = await makeCache(rules)
    for (let i = 0; i < 3; i++) await cache.set(`q${i}`, i, org('quiet'))
    for (let i = 0; i < 20; i++) {
      await cache.set(`n${i}`, i, org('noisy'))
      assert.equal(await cache.get(`n${i}`, org('noisy')), i, 'the entry just written is kept')
    }
    for (let i = 0; i < 3; i++) assert.equal(await cache.get(`q${i}`, org('quiet')), i, `q${i}`)
    // The noisy tenant lost its least recently used entries: it keeps its 3 newest.
    for (let i = 17; i < 20; i++) assert.equal(await cache.get(`n${i}`, org('noisy')), i, `n${i}`)
    const stats = await cache.stats()
    assert.equal(stats.totalKeys, 6)
    assert.equal(stats.evictionsByReason.lru, 17)
  })
}
