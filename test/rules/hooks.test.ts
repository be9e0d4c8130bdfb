// Custom rule hooks are isolated: a hook that throws becomes an `error` event; the operation that ran
// it, the storage's bounds and the other rules are unaffected, and nothing becomes an unhandled rejection.
import { afterAll, describe, expect, it } from 'vitest'
import type { CacheError, CacheRule, StorageProvider } from '../../src/index.js'
import { Cache, LRUEvict, MaxItemsEvict, RuleError } from '../../src/index.js'
import { redisTargets } from '../support/redis-targets.js'
import { sleep, uniqueName } from '../support/services.js'

const storages: { name: string; make: () => StorageProvider | undefined }[] = [
  { name: 'memory', make: () => undefined },
  ...redisTargets().map((target) => ({
    name: `redis ${target.name}`,
    make: () => target.storage(uniqueName('hooks')),
  })),
]

const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

/** A rule whose every hook throws (an Error, a string, or a hostile object). */
function throwing(what: unknown): CacheRule {
  const fail = () => {
    throw what
  }
  return { name: 'boom\u001b[2J', onGet: fail, onSet: fail, onEvict: fail, onClear: fail }
}

describe.each(storages)('throwing rule hooks over $name', ({ make }) => {
  for (const [label, bound] of [
    ['MaxItemsEvict', new MaxItemsEvict({ maxItems: 3 })],
    ['LRUEvict per organization', new LRUEvict({ maxItems: 3, per: 'organization' })],
  ] as const) {
    it(`a throwing onEvict keeps a ${label} bound of 3 and fails no caller`, async () => {
      const storage = make()
      const seen: string[] = []
      const counting: CacheRule = { name: 'counting', onEvict: (event) => void seen.push(event.reason) }
      const cache = new Cache({
        ...(storage === undefined ? {} : { storage }),
        rules: [bound, throwing(new Error('hook failed')), counting],
      }) as unknown as Cache<never, StorageProvider>
      opened.push(cache)
      const errors: [CacheError, string][] = []
      cache.on('error', (error, { operation }) => errors.push([error, operation]))
      const scope = { scope: 'organization', orgId: 'o1' } as never
      for (let i = 0; i < 10; i++) await cache.set(`k${i}`, 'x'.repeat(1000), scope)
      await sleep(20) // evictions a shared storage reports asynchronously
      expect((await cache.stats()).totalKeys).toBe(3)
      expect(await cache.get('k9', scope)).toBe('x'.repeat(1000))
      expect(await cache.get('k0', scope)).toBeUndefined()
      // The rule after the throwing one still saw every eviction.
      expect(seen.filter((reason) => reason !== 'explicit')).toHaveLength(7)
      expect(await cache.evictByScope('organization' as never, { orgId: 'o1' } as never)).toBe(3)
      expect(await cache.clear()).toBe(0)
      const hooks = new Set(errors.map(([error]) => (error as RuleError).hook))
      expect([...hooks].sort()).toEqual(['onClear', 'onEvict', 'onGet', 'onSet'])
      for (const [error, operation] of errors) {
        expect(operation).toBe('rule')
        expect(error).toBeInstanceOf(RuleError)
        expect(error.message).toContain('threw: hook failed')
        expect((error as RuleError).rule).toBe('boom\u001b[2J')
      }
    })
  }

  it('a hook throwing a non-Error (a string, null, an object) is reported too', async () => {
    for (const what of ['plain string', null, { toString: () => 'obj' }]) {
      const storage = make()
      const cache = new Cache({
        ...(storage === undefined ? {} : { storage }),
        rules: [new MaxItemsEvict({ maxItems: 1 }), throwing(what)],
      }) as unknown as Cache<never, StorageProvider>
      opened.push(cache)
      const errors: CacheError[] = []
      cache.on('error', (error) => errors.push(error))
      await cache.set('a', 1)
      await cache.set('b', 2)
      await sleep(20)
      expect(await cache.get('b')).toBe(2)
      expect((await cache.stats()).totalKeys).toBe(1)
      expect(errors.length).toBeGreaterThanOrEqual(3)
      expect(errors.every((error) => error instanceof RuleError)).toBe(true)
    }
  })
})
