// KeyvAdapter beyond @keyv/test-suite: tenant isolation, clear() as a scope eviction, namespaces as
// sub-scopes, the ambient (level-only) selector failing closed, hostile input, races, and
// cache-manager 7 on top, on memory and on every shared backend.
import { createCache } from 'cache-manager'
import fc from 'fast-check'
import Keyv from 'keyv'
import { afterAll, describe, expect, it } from 'vitest'
import {
  Cache,
  CacheClosedError,
  ConfigurationError,
  InMemory,
  InvalidArgumentError,
  ScopeConfig,
  ScopeError,
  ScopeLevel,
} from '../../src/index.js'
import type { StorageProvider } from '../../src/index.js'
import { KEYV_NAMESPACE_LEVEL, KeyvAdapter } from '../../src/keyv.js'
import { sharedStorages } from '../support/shared-storages.js'
import { sleep } from '../support/services.js'

const backends = [{ name: 'memory', make: (): StorageProvider => new InMemory() }, ...sharedStorages('keyva')]
const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  for (const cache of opened.splice(0)) {
    await cache.clear().catch(() => 0)
    await cache.close()
  }
})

for (const backend of backends) {
  describe(`KeyvAdapter on ${backend.name}`, () => {
    const newCache = () => {
      const cache = new Cache({ storage: backend.make() })
      opened.push(cache as never)
      return cache
    }

    it('keeps tenants apart, and clear() evicts only its own scope', async () => {
      const cache = newCache()
      const o1 = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o1' }) })
      const o2 = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o2' }) })
      const global = new Keyv({ store: new KeyvAdapter(cache) })
      await Promise.all([o1.set('k', 'one'), o2.set('k', 'two'), global.set('k', 'global')])
      await cache.set('direct', 1, { scope: 'user', orgId: 'o1', userId: 'u1' })
      expect([await o1.get('k'), await o2.get('k'), await global.get('k')]).toEqual(['one', 'two', 'global'])
      const evicted: unknown[] = []
      cache.on('evictByScope' as never, (e: unknown) => evicted.push(e))
      await o1.clear()
      expect([await o1.get('k'), await o2.get('k'), await global.get('k')]).toEqual([
        undefined,
        'two',
        'global',
      ])
      // the namespace sub-scope only: the tenant's other entries stay
      expect(await cache.get('direct', { scope: 'user', orgId: 'o1', userId: 'u1' })).toBe(1)
      // without a namespace, clear() is the scope's evictByScope: the user's entry goes too
      const whole = new KeyvAdapter(cache, { scope: 'organization', orgId: 'o1' })
      await whole.clear()
      expect(await cache.get('direct', { scope: 'user', orgId: 'o1', userId: 'u1' })).toBeUndefined()
      expect(await o2.get('k')).toBe('two')
    })

    it('a namespace is a sub-scope: evicting the tenant evicts its namespaces; clear() of one spares the others', async () => {
      const cache = newCache()
      const a = new Keyv({
        store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' }),
        namespace: 'a',
      })
      const b = new Keyv({
        store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' }),
        namespace: 'b',
      })
      await a.set('k', 1)
      await b.set('k', 2)
      const raw = new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' })
      raw.namespace = 'a'
      expect(await raw.has('a:k')).toBe(true)
      expect(await raw.has('b:k')).toBe(false)
      await a.clear()
      expect([await a.get('k'), await b.get('k')]).toEqual([undefined, 2])
      expect(await cache.evictByScope('organization', { orgId: 'o' })).toBe(1)
      expect(await b.get('k')).toBeUndefined()
    })

    it('hands Keyv TTLs to the storage: an expired entry is gone from the backend, not only hidden', async () => {
      const cache = newCache()
      const adapter = new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' })
      // long enough to be read back on a loaded machine (a 60 ms TTL once expired before the read)
      await new Keyv({ store: adapter }).set('short', 'v', 1_000)
      await adapter.set('forever', 'v', 0)
      expect(await adapter.get('keyv:short')).toBeDefined()
      await sleep(1_300)
      expect(await adapter.get('keyv:short')).toBeUndefined()
      expect(await adapter.get('forever')).toBe('v')
    })

    it('getMany, hasMany, setMany and deleteMany', async () => {
      const cache = newCache()
      const adapter = new KeyvAdapter(cache, { scope: 'user', orgId: 'o', userId: 'u' })
      await adapter.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: 10_000 },
      ])
      expect(await adapter.getMany(['a', 'x', 'b'])).toEqual([1, undefined, 2])
      expect(await adapter.hasMany(['a', 'x'])).toEqual([true, false])
      expect(await adapter.deleteMany(['x', 'y'])).toBe(false)
      expect(await adapter.deleteMany(['a', 'x'])).toBe(true)
      expect(await adapter.getMany(['a', 'b'])).toEqual([undefined, 2])
    })

    it('property: distinct (tenant, namespace, key) never share an entry, whatever their characters', async () => {
      const cache = newCache()
      const text = fc.string({
        unit: fc.constantFrom('a', '/', '|', '=', '%', ':', '#', '{', '}', 'é', '\0'),
        maxLength: 4,
      })
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.tuple(
              text.filter((s) => s !== ''),
              text,
              text,
            ),
            {
              minLength: 2,
              maxLength: 6,
              selector: (t) => JSON.stringify(t),
            },
          ),
          async (triples) => {
            const adapters = triples.map(([orgId, namespace]) => {
              const adapter = new KeyvAdapter(cache, { scope: 'organization', orgId })
              adapter.namespace = namespace
              return adapter
            })
            await Promise.all(adapters.map((adapter, i) => adapter.set(triples[i]![2], i)))
            for (const [i, adapter] of adapters.entries()) expect(await adapter.get(triples[i]![2])).toBe(i)
            await adapters[0]!.clear()
            // clear() evicts the first adapter's namespace, or its whole tenant when it has none ('')
            const [org0, ns0] = triples[0]!
            for (const [i, adapter] of adapters.entries()) {
              const [org, ns, key] = triples[i]!
              const cleared = org === org0 && (ns0 === '' || ns === ns0)
              expect(await adapter.get(key)).toBe(cleared ? undefined : i)
            }
            await cache.clear()
          },
        ),
        { numRuns: backend.name === 'memory' ? 100 : 25 },
      )
    })

    it('race (50x): clearing one tenant while others write never loses another tenant’s entry', async () => {
      const cache = newCache()
      for (let run = 0; run < 50; run++) {
        const victim = new KeyvAdapter(cache, { scope: 'organization', orgId: `v${run}` })
        const others = [0, 1, 2].map(
          (i) => new KeyvAdapter(cache, { scope: 'organization', orgId: `o${run}-${i}` }),
        )
        await victim.set('k', 'v')
        await Promise.all([
          victim.clear(),
          ...others.map((other, i) => other.set('k', i)),
          victim.set('late', 'x').then(() => victim.clear()),
        ])
        for (const [i, other] of others.entries()) expect(await other.get('k')).toBe(i)
        expect(await victim.get('k')).toBeUndefined()
      }
    })

    it('works as a cache-manager 7 store: one store per tenant, no leak between them', async () => {
      const cache = newCache()
      const forTenant = (orgId: string) =>
        createCache({
          stores: [new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId }) })],
        })
      const t1 = forTenant('t1')
      const t2 = forTenant('t2')
      await t1.set('profile', { name: 'one' }, 60_000)
      expect(await t2.get('profile')).toBeUndefined()
      expect(await t1.get('profile')).toEqual({ name: 'one' })
      let calls = 0
      const load = async () => ({ n: ++calls })
      expect(await t2.wrap('profile', load, 60_000)).toEqual({ n: 1 })
      expect(await t2.wrap('profile', load, 60_000)).toEqual({ n: 1 })
      expect(await t1.mget(['profile', 'none'])).toEqual([{ name: 'one' }, undefined])
      expect(await t1.del('profile')).toBe(true)
      await t2.clear()
      expect(await t2.get('profile')).toBeUndefined()
      expect(await t1.ttl('profile')).toBeUndefined()
    })
  })
}

describe('KeyvAdapter.iterator()', () => {
  it('lists its scope or namespace only, without memoized results, and needs a storage with list', async () => {
    const cache = new Cache()
    const adapter = new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' })
    await adapter.set('#hash', 1)
    await adapter.set('plain', 2)
    await cache.set('elsewhere', 3, { scope: 'organization', orgId: 'p' })
    const memo = cache.cache({
      scope: 'organization',
      scopeParams: (orgId: string) => ({ orgId }),
      namespace: 'memo',
    })((orgId: string) => orgId)
    expect(memo('o')).toBe('o')
    expect(cache.statsSync().totalKeys).toBe(4)
    const listed = []
    for await (const pair of adapter.iterator()) listed.push(pair)
    expect(listed.sort()).toEqual([
      ['#hash', 1],
      ['plain', 2],
    ])
    const inNamespace = []
    await new Keyv({ store: adapter, namespace: 'ns' }).set('k', 'v')
    for await (const [key] of adapter.iterator('ns')) inNamespace.push(key)
    expect(inNamespace).toEqual(['ns:k'])

    const bare = new InMemory() as StorageProvider & { list?: unknown }
    bare.list = undefined
    const noList = new KeyvAdapter(new Cache({ storage: bare }))
    await expect(noList.iterator().next()).rejects.toThrow(/cannot list a scope/)
  })
})

describe('KeyvAdapter bound to the ambient scope (the level only)', () => {
  it('fails closed: with no ambient scope every call is a ScopeError, never a global key', async () => {
    const cache = new Cache()
    const adapter = new KeyvAdapter(cache, { scope: 'organization' })
    for (const call of [
      () => adapter.get('k'),
      () => adapter.set('k', 1),
      () => adapter.has('k'),
      () => adapter.delete('k'),
      () => adapter.clear(),
      () => adapter.getMany(['k']),
      () => adapter.deleteMany(['k']),
    ]) {
      await expect(call()).rejects.toThrow(ScopeError)
    }
    await expect(adapter.get('k')).rejects.toThrow(/ambient organization scope.*runInScope\(\{ orgId \}/)
    expect(cache.statsSync().totalKeys).toBe(0)
    const keyv = new Keyv({ store: adapter, throwOnErrors: true })
    await expect(keyv.set('k', 1)).rejects.toThrow(ScopeError)
    const quiet = new Keyv({ store: adapter })
    const errors: unknown[] = []
    quiet.on('error', (error) => errors.push(error))
    // Keyv swallows a store's read errors (a miss: nothing is served) and reports failed writes
    expect(await quiet.get('k')).toBeUndefined()
    expect(await quiet.set('k', 1)).toBe(false)
    expect(errors[0]).toBeInstanceOf(ScopeError)
    expect(cache.statsSync().totalKeys).toBe(0)
  })

  it('follows cache.currentScope() at each call where the cache has it', async () => {
    const cache = new Cache()
    let current: Record<string, string> | undefined = { orgId: 'a', userId: 'ua' }
    Object.defineProperty(cache, 'currentScope', { value: () => current })
    const adapter = new KeyvAdapter(cache, { scope: 'organization' })
    await adapter.set('k', 'for a')
    current = { orgId: 'b' }
    expect(await adapter.get('k')).toBeUndefined()
    await adapter.set('k', 'for b')
    current = { orgId: 'a' }
    expect(await adapter.get('k')).toBe('for a')
    expect(cache.getSync('k', { scope: 'organization', orgId: 'b' })).toBe('for b')
    current = { userId: 'u' }
    await expect(adapter.get('k')).rejects.toThrow(/the ambient scope has no orgId/)
    current = {}
    await expect(adapter.set('k', 1)).rejects.toThrow(ScopeError)
    current = { orgId: { evil: true } as never }
    await expect(adapter.get('k')).rejects.toThrow(ScopeError)
    current = undefined
    await expect(adapter.get('k')).rejects.toThrow(ScopeError)
  })
})

describe('KeyvAdapter input', () => {
  it('refuses a bad scope or cache when it is built, with what to pass instead', () => {
    const cache = new Cache()
    // @ts-expect-error not a cache
    expect(() => new KeyvAdapter({})).toThrow(ConfigurationError)
    // @ts-expect-error not a cache
    expect(() => new KeyvAdapter(null)).toThrow(ConfigurationError)
    // @ts-expect-error a scope is an object
    expect(() => new KeyvAdapter(cache, 'organization')).toThrow(ScopeError)
    // @ts-expect-error null
    expect(() => new KeyvAdapter(cache, null)).toThrow(ScopeError)
    // @ts-expect-error a partial selector: user needs orgId too
    expect(() => new KeyvAdapter(cache, { scope: 'user', userId: 'u' })).toThrow(/orgId/)
    // @ts-expect-error no such level
    expect(() => new KeyvAdapter(cache, { scope: 'team' })).toThrow(ScopeError)
    // @ts-expect-error a parameter of another level
    expect(() => new KeyvAdapter(cache, { scope: 'organization', orgId: 'o', userId: 'u' })).toThrow(
      ScopeError,
    )
    expect(() => new KeyvAdapter(cache, { scope: 'global' })).not.toThrow()
    expect(() => new KeyvAdapter(cache, {})).not.toThrow()
  })

  it('refuses bad keys, entries and TTLs with an InvalidArgumentError, and leaves the other calls alone', async () => {
    const cache = new Cache()
    const adapter = new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' })
    await expect(adapter.get(1 as never)).rejects.toThrow(InvalidArgumentError)
    await expect(adapter.set('\uD800', 1)).rejects.toThrow(/lone UTF-16 surrogate/)
    await expect(adapter.set('k', 1, 'soon' as never)).rejects.toThrow(/ttl must be milliseconds/)
    await expect(adapter.getMany('k' as never)).rejects.toThrow(/keys must be an array/)
    await expect(adapter.setMany({} as never)).rejects.toThrow(/entries must be an array/)
    await expect(adapter.setMany([{ key: 'ok', value: 1 }, null as never])).rejects.toThrow(
      InvalidArgumentError,
    )
    expect(await adapter.has('ok')).toBe(false) // nothing half-written
    adapter.namespace = '\uDC00'
    await expect(adapter.get('k')).rejects.toThrow(/namespace/)
    adapter.namespace = undefined
    await adapter.set('k', 1)
    expect(await adapter.get('k')).toBe(1)
    expect(() => new ScopeConfig([new ScopeLevel(KEYV_NAMESPACE_LEVEL, 'x')])).toThrow(ConfigurationError)
  })

  it('rejects with CacheClosedError once the cache is closed', async () => {
    const cache = new Cache()
    const adapter = new KeyvAdapter(cache)
    await cache.close()
    await expect(adapter.get('k')).rejects.toThrow(CacheClosedError)
    await expect(adapter.clear()).rejects.toThrow(CacheClosedError)
  })
})
