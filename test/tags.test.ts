/**
 * The facade's side of tags, on the in-memory storage: a storage without tags refuses them, events and
 * rule hooks see `'tag'` evictions with their scope, the sync twin, closed caches and bad selectors.
 */
import { describe, expect, it } from 'vitest'
import type { CacheRule, RuleEvictEvent, StorageProvider } from '../src/index.js'
import {
  Cache,
  CacheClosedError,
  ConfigurationError,
  InMemory,
  InvalidArgumentError,
  ScopeError,
} from '../src/index.js'

/** An InMemory seen through the contract without its optional tag capability. */
function withoutTags(): StorageProvider {
  const inner = new InMemory()
  return {
    storageType: 'plain',
    supportsBounds: false,
    attach: (context) => inner.attach(context),
    get: (ref) => inner.get(ref),
    set: (ref, value, ttlMs) => inner.set(ref, value, ttlMs),
    delete: (ref) => inner.delete(ref),
    evictScope: (path) => inner.evictScope(path),
    size: () => inner.size(),
    close: () => inner.close(),
  }
}

describe('tags through the facade', () => {
  it('a storage without invalidateTags refuses tags with a ConfigurationError, and nothing is written', async () => {
    const cache = new Cache({ storage: withoutTags() })
    await expect(cache.set('k', 1, { tags: ['a'] })).rejects.toThrow(ConfigurationError)
    await expect(cache.set('k', 1, { tags: ['a'] })).rejects.toThrow(/does not support tags/)
    await expect(cache.invalidateTags(['a'])).rejects.toThrow(ConfigurationError)
    expect(() => cache.cache({ namespace: 'n', tags: () => ['a'] })).toThrow(ConfigurationError)
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', 1) // untagged writes still work
    expect(await cache.get('k')).toBe(1)
  })

  it("events and rule hooks see 'tag' evictions with the invalidated scope", async () => {
    const seen: RuleEvictEvent[] = []
    const rule: CacheRule = { name: 'spy', onEvict: (event) => void seen.push(event) }
    const cache = new Cache({ rules: [rule] })
    const events: unknown[] = []
    cache.on('evict', (event) => events.push(event))
    cache.setSync('a', 1, { scope: 'organization', orgId: 'o1', tags: ['t'] })
    cache.setSync('b', 2, { scope: 'user', orgId: 'o1', userId: 'u', tags: ['t'] })
    expect(cache.invalidateTagsSync(['t'], { scope: 'organization', orgId: 'o1' })).toBe(2)
    const scope = [{ level: 'organization', id: 'o1' }]
    expect(events).toEqual([{ reason: 'tag', count: 2, scope, key: undefined, namespace: undefined }])
    expect(seen).toEqual([{ ref: undefined, reason: 'tag', count: 2, scope }])
    expect(cache.statsSync()).toMatchObject({ evictions: 2, evictionsByReason: { tag: 2 }, totalKeys: 0 })
  })

  it('bad selectors, an async storage for the sync twin and a closed cache are refused', async () => {
    const cache = new Cache()
    await expect(cache.invalidateTags(['t'], 'organization' as never)).rejects.toThrow(ScopeError)
    await expect(cache.invalidateTags(['t'], { scope: 'organisation' } as never)).rejects.toThrow(ScopeError)
    await expect(cache.invalidateTags(['t'], { scope: 'user', orgId: 'o' } as never)).rejects.toThrow(
      ScopeError,
    )
    await expect(cache.invalidateTags('t' as never)).rejects.toThrow(InvalidArgumentError)
    const async = new Cache({ storage: withoutTags() })
    expect(() => (async as unknown as Cache).invalidateTagsSync(['t'])).toThrow(ConfigurationError)
    await cache.close()
    await expect(cache.invalidateTags(['t'])).rejects.toThrow(CacheClosedError)
  })
})
