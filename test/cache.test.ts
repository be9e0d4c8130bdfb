import { describe, expect, it } from 'vitest'
import type { CacheRule, EntryRef, RuleEvictEvent, StorageContext, StorageProvider } from '../src/index.js'
import {
  Cache,
  CacheClosedError,
  CacheError,
  ConfigurationError,
  InMemory,
  InvalidArgumentError,
  LifeTimeEvict,
  LRUEvict,
  MaxItemsEvict,
  MISS,
  ScopeConfig,
  ScopeError,
  ScopeLevel,
  StorageError,
} from '../src/index.js'

describe('Cache with zero configuration', () => {
  it('works in memory with the default scopes', async () => {
    const cache = new Cache()
    await cache.set(
      'settings',
      { theme: 'dark' },
      { ttlSeconds: 3600, scope: 'user', orgId: 'o1', userId: 'u1' },
    )
    expect(await cache.get('settings', { scope: 'user', orgId: 'o1', userId: 'u1' })).toEqual({
      theme: 'dark',
    })
    expect(await cache.evict('settings', { scope: 'user', orgId: 'o1', userId: 'u1' })).toBe(true)
    expect(await cache.stats()).toEqual({
      hits: 1,
      misses: 0,
      sets: 1,
      evictions: 1,
      evictionsByReason: { explicit: 1, expired: 0, lru: 0, maxItems: 0, scope: 0, rule: 0, tag: 0 },
      hitRate: 1,
      storageType: 'in_memory',
      totalKeys: 0,
    })
  })

  it('has sync twins of every operation over the in-memory storage', () => {
    const cache = new Cache()
    cache.setSync('a', 1, { scope: 'organization', orgId: 'o' })
    cache.setSync('b', 2)
    expect(cache.getSync('a', { scope: 'organization', orgId: 'o' })).toBe(1)
    expect(cache.getSync('zz')).toBeUndefined()
    expect(cache.statsSync().hitRate).toBe(0.5)
    expect(cache.evictSync('b')).toBe(true)
    expect(cache.evictByScopeSync('organization', { orgId: 'o' })).toBe(1)
    cache.setSync('c', 3)
    expect(cache.clearSync()).toBe(1)
    expect(cache.statsSync().evictionsByReason).toMatchObject({ explicit: 1, scope: 2 })
  })

  it('applies defaultTtlSeconds to writes that give none', async () => {
    const cache = new Cache({ defaultTtlSeconds: 0.05 })
    await cache.set('k', 1)
    await cache.set('long', 1, { ttlSeconds: 60 })
    await new Promise((r) => setTimeout(r, 80))
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.get('long')).toBe(1)
  })
})

describe('bad input gets a clear, typed error and changes nothing', () => {
  const cache = new Cache()

  it.each([
    [
      'key',
      () => cache.set(5 as never, 1),
      InvalidArgumentError,
      'cache.set(key): key must be a string, got number',
    ],
    [
      'lone surrogate key',
      () => cache.set('a\ud800', 1),
      InvalidArgumentError,
      'key must be well-formed Unicode',
    ],
    [
      'lone surrogate id',
      () => cache.set('k', 1, { scope: 'organization', orgId: '\udc00x' }),
      ScopeError,
      'scope parameter "orgId" (level "organization") must be well-formed Unicode',
    ],
    [
      'ttl 0',
      () => cache.set('k', 1, { ttlSeconds: 0 }),
      InvalidArgumentError,
      'ttlSeconds must be a positive finite number',
    ],
    ['ttl -1', () => cache.set('k', 1, { ttlSeconds: -1 }), InvalidArgumentError, 'got -1'],
    ['ttl Infinity', () => cache.set('k', 1, { ttlSeconds: Infinity }), InvalidArgumentError, 'got Infinity'],
    ['ttl string', () => cache.set('k', 1, { ttlSeconds: '5' as never }), InvalidArgumentError, 'got string'],
    ['scope type', () => cache.evictByScope(5 as never), InvalidArgumentError, 'scope must be a scope name'],
    [
      'params',
      () => cache.evictByScope('organization', 'o' as never),
      InvalidArgumentError,
      'params must be an object',
    ],
  ])('%s', async (_name, run, type, message) => {
    const before = await cache.stats()
    const result = run()
    expect(result).toBeInstanceOf(Promise) // never a synchronous throw
    await expect(result).rejects.toBeInstanceOf(type)
    await expect(run()).rejects.toThrow(message)
    await expect(run()).rejects.toBeInstanceOf(CacheError)
    expect(await cache.stats()).toEqual(before)
  })

  it('a fractional ttlSeconds is allowed', async () => {
    await expect(cache.set('k', 1, { ttlSeconds: 0.25 })).resolves.toBeUndefined()
  })
})

describe('configuration errors', () => {
  it.each([
    [() => new Cache(null as never), /expects an options object/],
    [() => new Cache({ scopes: {} as never }), /must be a ScopeConfig/],
    [() => new Cache({ storage: {} as never }), /must implement StorageProvider/],
    [() => new Cache({ rules: 'x' as never }), /rules must be an array/],
    [() => new Cache({ rules: [null as never] }), /rules\[0\] is not a rule object/],
    [
      () => new Cache({ rules: [new LRUEvict({ maxItems: 5, per: 'team' })] }),
      /per: "team" is not a scope level of this cache \(levels: organization, user, session\)/,
    ],
    [() => new Cache({ defaultTtlSeconds: -5 }), /defaultTtlSeconds must be a positive/],
    [() => new LRUEvict({ maxItems: 0 }), /LRUEvict: maxItems must be a positive integer, got 0/],
    [() => new MaxItemsEvict({ maxItems: 1.5 }), /MaxItemsEvict: maxItems must be a positive integer/],
    [() => new MaxItemsEvict(undefined as never), /MaxItemsEvict needs options/],
    [() => new LRUEvict({ maxItems: 1, per: 'global' }), /per must be the name of a scope level/],
    [() => new LifeTimeEvict({ sweepIntervalSeconds: 0 }), /sweepIntervalSeconds must be a positive number/],
  ])('%#', (make, message) => {
    expect(make).toThrow(ConfigurationError)
    expect(make).toThrow(message)
  })

  it('refuses bounds on a storage that cannot enforce them', () => {
    expect(
      () => new Cache({ storage: new AsyncOnlyStorage(), rules: [new LRUEvict({ maxItems: 1 })] }),
    ).toThrow(/the async-map storage does not enforce bounds/)
  })
})

describe('close()', () => {
  it('makes every later operation fail with CacheClosedError', async () => {
    const cache = new Cache()
    await cache.close()
    await expect(cache.set('k', 1)).rejects.toBeInstanceOf(CacheClosedError)
    await expect(cache.evictByScope('global')).rejects.toThrow(
      'cache.evictByScope() was called after cache.close()',
    )
    await expect(cache.stats()).rejects.toBeInstanceOf(CacheClosedError)
    expect(() => cache.getSync('k')).toThrow(CacheClosedError)
    expect(() => cache.cache()).toThrow(CacheClosedError)
  })

  it('memoized functions made before close() fail too', async () => {
    const cache = new Cache()
    const sync = cache.cache()(function syncFn() {
      return 1
    })
    const async = cache.cache()(async function asyncFn() {
      return 1
    })
    await cache.close()
    expect(() => sync()).toThrow(CacheClosedError)
    await expect(async()).rejects.toBeInstanceOf(CacheClosedError)
  })
})

/** A minimal async-only provider written against the public contract, as a user would. */
class AsyncOnlyStorage implements StorageProvider {
  readonly storageType = 'async-map'
  readonly supportsBounds = false
  readonly #map = new Map<string, unknown>()
  failNext = false
  attach(_context: StorageContext): void {}
  #id(ref: EntryRef) {
    return JSON.stringify(ref)
  }
  async get(ref: EntryRef) {
    if (this.failNext) {
      this.failNext = false
      throw new Error('timeout')
    }
    return this.#map.has(this.#id(ref)) ? this.#map.get(this.#id(ref)) : MISS
  }
  async set(ref: EntryRef, value: unknown) {
    this.#map.set(this.#id(ref), value)
  }
  async delete(ref: EntryRef) {
    return this.#map.delete(this.#id(ref))
  }
  async evictScope(path: EntryRef['scope']) {
    let n = 0
    for (const id of [...this.#map.keys()]) {
      const ref = JSON.parse(id) as EntryRef
      if (
        path.every((s, i) => ref.scope[i]?.level === s.level && ref.scope[i]?.id === s.id) &&
        this.#map.delete(id)
      )
        n++
    }
    return n
  }
  async size() {
    return this.#map.size
  }
  async close() {}
}

describe('a custom async storage', () => {
  it('works through the contract; sync operations explain what to use instead', async () => {
    const storage = new AsyncOnlyStorage()
    const cache = new Cache({ storage })
    await cache.set('k', 1, { scope: 'user', orgId: 'o', userId: 'u' })
    expect(await cache.get('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe(1)
    expect(await cache.evict('k', { scope: 'user', orgId: 'o', userId: 'u' })).toBe(true)
    await cache.set('k', 1, { scope: 'user', orgId: 'o', userId: 'u' })
    expect(await cache.evictByScope('organization', { orgId: 'o' })).toBe(1)
    expect((await cache.stats()).storageType).toBe('async-map')
    const syncCache = cache as unknown as Cache<ScopeConfig, InMemory>
    expect(() => syncCache.getSync('k')).toThrow(
      'getSync() needs a synchronous storage such as InMemory; the async-map storage is async: use await cache.get()',
    )
    storage.failNext = true
    const error = await cache.get('k').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect(error).toMatchObject({
      storageType: 'async-map',
      operation: 'get',
      message: 'async-map storage failed during get: timeout',
    })
    expect((error as StorageError).cause).toBeInstanceOf(Error)
  })

  it('a get that throws instead of rejecting is a StorageError, and a miss for memoized calls', async () => {
    class ThrowingStorage extends AsyncOnlyStorage {
      // Deliberately not async: the throw happens before any promise exists.
      override get(): Promise<unknown> {
        throw new Error('driver bug')
      }
    }
    const cache = new Cache({ storage: new ThrowingStorage() })
    const errors: unknown[] = []
    cache.on('error', (event) => errors.push(event))
    const error = await cache.get('k').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).message).toBe('async-map storage failed during get: driver bug')
    let calls = 0
    const memo = cache.cache({ namespace: 'n' })(async (x: number) => {
      calls++
      return x * 2
    })
    expect(await memo(21)).toBe(42)
    expect(calls).toBe(1)
    expect(errors).toHaveLength(1)
  })
})

describe('custom rules', () => {
  it('see every operation and can evict entries through effects', async () => {
    const log: string[] = []
    const evicted: RuleEvictEvent[] = []
    /** Keeps only the newest 'draft:' key: a custom bound on part of the keyspace. */
    let lastDraft: EntryRef | undefined
    const oneDraft: CacheRule = {
      name: 'oneDraft',
      onGet: ({ ref, hit }) => void log.push(`get ${ref.key} ${hit}`),
      onSet: ({ ref, ttlMs }) => {
        log.push(`set ${ref.key} ${ttlMs}`)
        if (!ref.key.startsWith('draft:')) return
        const previous = lastDraft
        lastDraft = ref
        return previous && previous.key !== ref.key ? [{ type: 'evict', ref: previous }] : []
      },
      onEvict: (event) => void evicted.push(event),
      onClear: () => void log.push('clear'),
    }
    const cache = new Cache({ rules: [oneDraft] })
    await cache.set('draft:1', 'a', { ttlSeconds: 1 })
    await cache.set('draft:2', 'b')
    expect(await cache.get('draft:1')).toBeUndefined()
    expect(await cache.get('draft:2')).toBe('b')
    await cache.evict('draft:2')
    await cache.clear()
    expect(log).toEqual([
      'set draft:1 1000',
      'set draft:2 undefined',
      'get draft:1 false',
      'get draft:2 true',
      'clear',
    ])
    expect(evicted.map((e) => [e.reason, e.count, e.ref?.key])).toEqual([
      ['rule', 1, 'draft:1'],
      ['explicit', 1, 'draft:2'],
      ['scope', 0, undefined],
    ])
    expect((await cache.stats()).evictionsByReason.rule).toBe(1)
  })

  it('an invalid effect is a clear error event; the write itself succeeds', () => {
    const messages: string[] = []
    const cache = new Cache({ rules: [{ name: 'bad', onSet: () => [{ type: 'drop' } as never] }] })
    cache.on('error', (error) => messages.push(error.message))
    cache.setSync('k', 1)
    expect(cache.getSync('k')).toBe(1)
    const cache2 = new Cache({ rules: [{ name: 'bad2', onSet: () => 5 as never }] })
    cache2.on('error', (error) => messages.push(error.message))
    cache2.setSync('k', 1)
    expect(messages).toEqual([
      "rule bad: onSet returned an invalid effect; use { type: 'evict', ref }; the rule's effects of this call are ignored",
      "rule bad2: onSet returned number; return an array of effects or nothing; the rule's effects of this call are ignored",
    ])
  })

  it('effects over an async storage are applied too', async () => {
    const storage = new AsyncOnlyStorage()
    const cache = new Cache({
      storage,
      rules: [
        {
          name: 'noTemp',
          onSet: ({ ref }) => (ref.key.startsWith('tmp') ? [{ type: 'evict', ref }] : undefined),
        },
      ],
    })
    await cache.set('tmp1', 1)
    await cache.set('keep', 1)
    await new Promise((r) => setTimeout(r, 0))
    expect(await cache.get('tmp1')).toBeUndefined()
    expect(await cache.get('keep')).toBe(1)
    expect((await cache.stats()).evictionsByReason.rule).toBe(1)
  })
})

describe('events', () => {
  it('a throwing listener does not break the cache, and off() removes a listener', async () => {
    const storage = new AsyncOnlyStorage()
    const cache = new Cache({ storage })
    let calls = 0
    const listener = () => {
      calls++
      throw new Error('listener bug')
    }
    cache.on('error', listener)
    const f = cache.cache()(async function evt() {
      return 1
    })
    storage.failNext = true
    expect(await f()).toBe(1)
    expect(calls).toBe(1)
    cache.off('error', listener)
    cache.off('error', listener)
    storage.failNext = true
    await cache.evictByScope('global')
    expect(
      await cache.cache()(async function evt2() {
        return 2
      })(),
    ).toBe(2)
    expect(calls).toBe(1)
  })
})

describe('typed scopes', () => {
  it('a typed ScopeConfig types the options (checked by tsc, run here)', async () => {
    const scopes = new ScopeConfig([
      new ScopeLevel('tenant', 'tenantId', [new ScopeLevel('project', 'projectId')]),
    ])
    const cache = new Cache({ scopes })
    await cache.set('k', 1, { scope: 'project', tenantId: 't', projectId: 'p' })
    // @ts-expect-error projectId is required for the project scope
    await expect(cache.get('k', { scope: 'project', tenantId: 't' })).rejects.toThrow(
      'needs the parameter "projectId"',
    )
    // @ts-expect-error 'user' is not a scope of this configuration
    await expect(cache.evictByScope('user', { userId: 'u' })).rejects.toThrow('unknown scope "user"')
    expect(await cache.evictByScope('tenant', { tenantId: 't' })).toBe(1)
  })
})
