import { describe, expect, it, vi } from 'vitest'
import type { CacheError, EntryRef, ScopePath, StorageContext, StorageProvider } from '../../src/index.js'
import {
  Cache,
  ConfigurationError,
  InvalidArgumentError,
  MISS,
  ScopeConfig,
  ScopeError,
  ScopeLevel,
} from '../../src/index.js'

describe('memoizing sync functions over the in-memory storage', () => {
  it('stays sync, runs once per distinct arguments, and caches null and undefined', () => {
    const cache = new Cache()
    const seen: unknown[] = []
    const lookup = cache.cache()(function lookup(x: unknown): unknown {
      seen.push(x)
      return x === 'none' ? undefined : x === 'null' ? null : { x }
    })
    const first = lookup(1)
    expect(first).toEqual({ x: 1 })
    expect(lookup(1)).toBe(first)
    expect(lookup('1')).toEqual({ x: '1' })
    expect(lookup(true)).toEqual({ x: true })
    expect(lookup('none')).toBeUndefined()
    expect(lookup('none')).toBeUndefined()
    expect(lookup('null')).toBeNull()
    expect(lookup('null')).toBeNull()
    expect(seen).toEqual([1, '1', true, 'none', 'null'])
    expect(cache.statsSync()).toMatchObject({ hits: 3, misses: 5, sets: 5, totalKeys: 5 })
  })

  it('does not cache a thrown error', () => {
    const cache = new Cache()
    let calls = 0
    const flaky = cache.cache()(function flaky() {
      calls++
      if (calls === 1) throw new Error('boom')
      return 'ok'
    })
    expect(() => flaky()).toThrow('boom')
    expect(flaky()).toBe('ok')
    expect(flaky()).toBe('ok')
    expect(calls).toBe(2)
  })

  it('expires results after ttlSeconds', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const cache = new Cache()
      let calls = 0
      const now = cache.cache({ ttlSeconds: 0.5 })(function now() {
        return ++calls
      })
      expect(now()).toBe(1)
      vi.advanceTimersByTime(499)
      expect(now()).toBe(1)
      vi.advanceTimersByTime(1)
      expect(now()).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('uses the key option instead of encoding every argument', () => {
    const cache = new Cache()
    let calls = 0
    const render = cache.cache({ key: (user: { id: string }, _log: () => void) => user.id })(function render(
      user: { id: string },
      _log: () => void,
    ) {
      calls++
      return `<${user.id}>`
    })
    expect(render({ id: 'a' }, () => 1)).toBe('<a>')
    expect(render({ id: 'a' }, () => 2)).toBe('<a>')
    expect(calls).toBe(1)
  })

  it('refuses arguments without a stable key, telling to use the key option', () => {
    const cache = new Cache()
    const f = cache.cache()(function f(_cb: () => void) {
      return 1
    })
    expect(() => f(() => 1)).toThrow(InvalidArgumentError)
    expect(() => f(() => 1)).toThrow(/pass a `key` option/)
  })
})

describe('memoizing async functions', () => {
  it('concurrent misses of one key run the function once; different keys run separately', async () => {
    const cache = new Cache()
    let calls = 0
    const load = cache.cache()(async function load(id: number) {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return { id }
    })
    const results = await Promise.all([...Array.from({ length: 50 }, () => load(1)), load(2)])
    expect(calls).toBe(2)
    expect(results[0]).toEqual({ id: 1 })
    expect(results[50]).toEqual({ id: 2 })
    expect(await load(1)).toEqual({ id: 1 })
    expect(calls).toBe(2)
  })

  it('a hit of an async function still returns a Promise', async () => {
    const cache = new Cache()
    const load = cache.cache()(async function loadP(id: number) {
      return id * 2
    })
    const first = load(2)
    expect(first).toBeInstanceOf(Promise)
    await first
    const second = load(2)
    expect(second).toBeInstanceOf(Promise)
    expect(await second).toBe(4)
  })

  it('a function returning a promise (not declared async) is detected on its first call', async () => {
    const cache = new Cache()
    const load = cache.cache()(function loadThen(id: number) {
      return Promise.resolve(id + 1)
    })
    expect(await load(1)).toBe(2)
    expect(load(1)).toBeInstanceOf(Promise)
  })

  it('rejections are shared by the waiting callers and not cached', async () => {
    const cache = new Cache()
    let calls = 0
    const load = cache.cache()(async function failing() {
      calls++
      await new Promise((r) => setTimeout(r, 5))
      if (calls === 1) throw new Error('down')
      return 'up'
    })
    const settled = await Promise.allSettled([load(), load()])
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
    expect(await load()).toBe('up')
    expect(calls).toBe(2)
  })

  it('bad arguments of an async function reject instead of throwing', async () => {
    const cache = new Cache()
    const load = cache.cache({ scope: 'user' })(async function needsUser(args: {
      orgId: string
      userId?: string
    }) {
      return args
    })
    const result = load({ orgId: 'o' })
    expect(result).toBeInstanceOf(Promise)
    await expect(result).rejects.toThrow(ScopeError)
  })

  it('an eviction during a running call is not undone by its result', async () => {
    const cache = new Cache()
    let release!: () => void
    let calls = 0
    const load = cache.cache({ scope: 'user' })(async function slowUser(_args: {
      orgId: string
      userId: string
    }) {
      calls++
      await new Promise<void>((r) => (release = r))
      return `v${calls}`
    })
    const pending = load({ orgId: 'o', userId: 'u' })
    await Promise.resolve()
    expect(await cache.evictByScope('organization', { orgId: 'o' })).toBe(0)
    release()
    expect(await pending).toBe('v1')
    const next = load({ orgId: 'o', userId: 'u' })
    await Promise.resolve()
    release()
    expect(await next).toBe('v2')
  })
})

describe('scopes in memoized calls', () => {
  const scopes = new ScopeConfig([
    new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')]),
  ])

  it('reads scope parameters by name from a plain-object argument', async () => {
    const cache = new Cache({ scopes })
    const calls: string[] = []
    const getUser = cache.cache({ scope: 'user', ttlSeconds: 600 })(async function getUser(args: {
      orgId: string
      userId: string
    }) {
      calls.push(`${args.orgId}/${args.userId}`)
      return args.userId
    })
    await getUser({ orgId: 'o1', userId: 'u1' })
    await getUser({ orgId: 'o2', userId: 'u1' })
    await getUser({ orgId: 'o1', userId: 'u1' })
    expect(calls).toEqual(['o1/u1', 'o2/u1'])
    expect(await cache.evictByScope('user', { orgId: 'o1', userId: 'u1' })).toBe(1)
  })

  it('finds parameters in any plain-object argument, and through scopeParams for positional ones', () => {
    const cache = new Cache({ scopes })
    const a = cache.cache({ scope: 'user' })(function a(id: number, ctx: { orgId: string; userId: string }) {
      return `${ctx.orgId}/${ctx.userId}/${id}`
    })
    expect(a(1, { orgId: 'o', userId: 'u' })).toBe('o/u/1')
    const b = cache.cache({
      scope: 'user',
      scopeParams: (orgId: string, userId: string) => ({ orgId, userId }),
    })(function b(orgId: string, userId: string) {
      return `${orgId}/${userId}`
    })
    expect(b('o', 'u')).toBe('o/u')
    expect(cache.evictByScopeSync('user', { orgId: 'o', userId: 'u' })).toBe(2)
  })

  it('a missing scope parameter is an error naming it; positional ids need scopeParams', () => {
    const cache = new Cache({ scopes })
    const positional = cache.cache({ scope: 'user' })(function positional(orgId: string, userId: string) {
      return `${orgId}/${userId}`
    })
    expect(() => positional('o', 'u')).toThrow(
      'scope "user" needs the parameter "orgId" (level "organization")',
    )
    const wrong = cache.cache({ scope: 'user', scopeParams: () => 'x' as never })(function wrongParams() {
      return 1
    })
    expect(() => wrong()).toThrow(/scopeParams of wrongParams must return an object/)
  })
})

describe('namespaces and wrap-time errors', () => {
  it('two functions with the same name in one cache is an error at wrap time', () => {
    const cache = new Cache()
    cache.cache()(function load() {
      return 1
    })
    expect(() =>
      cache.cache()(function load() {
        return 2
      }),
    ).toThrow(/namespace "load" is already used/)
    const other = cache.cache({ namespace: 'load2' })(function load() {
      return 2
    })
    expect(other()).toBe(2)
  })

  it('anonymous functions need a namespace', () => {
    const cache = new Cache()
    const named = (x: number) => x // an arrow assigned to a const takes its name
    expect(cache.cache()(named)(3)).toBe(3)
    expect(() => cache.cache()([(x: number) => x][0]!)).toThrow(/anonymous function needs a namespace/)
  })

  it.each([
    [{ ttlSeconds: 0 }, ConfigurationError, /ttlSeconds must be a positive finite number/],
    [{ ttlSeconds: Number.NaN }, ConfigurationError, /got NaN/],
    [{ scope: 'nope' }, ScopeError, /unknown scope "nope"/],
    [{ key: 'id' }, ConfigurationError, /key option must be a function/],
    [{ namespace: '' }, ConfigurationError, /namespace must be a non-empty, well-formed string/],
    [{ namespace: '\ud800' }, ConfigurationError, /well-formed/],
  ])('checks options when the memoizer is made (%#)', (options, type, message) => {
    const cache = new Cache()
    expect(() => cache.cache(options as never)).toThrow(type)
    expect(() => cache.cache(options as never)).toThrow(message)
  })

  it('refuses to wrap a non-function and non-method decorator targets', () => {
    const cache = new Cache()
    expect(() => cache.cache()(42 as never)).toThrow(/wraps a function, got number/)
    expect(() => cache.cache()((() => 1) as never, { kind: 'field', name: 'x' } as never)).toThrow(
      /decorates methods only/,
    )
    expect(() =>
      cache.cache()(function f() {} as never, { kind: 'method', name: Symbol('s') } as never),
    ).toThrow(/symbol/)
    expect(() => cache.cache(null as never)).toThrow(/expects an options object/)
  })
})

describe('the TC39 method decorator', () => {
  it('memoizes a method, keeps `this`, and a sync method stays sync', () => {
    const cache = new Cache()
    class Repo {
      calls = 0
      constructor(readonly prefix: string) {}

      @cache.cache({ ttlSeconds: 60 })
      find(id: string): string {
        this.calls++
        return `${this.prefix}${id}`
      }
    }
    const repo = new Repo('r:')
    expect(repo.find('1')).toBe('r:1')
    expect(repo.find('1')).toBe('r:1')
    expect(repo.calls).toBe(1)
    expect(cache.statsSync().hits).toBe(1)
  })

  it('memoizes async methods with scopes and a namespace', async () => {
    const cache = new Cache()
    let calls = 0
    class Users {
      @cache.cache({ scope: 'user', namespace: 'Users.get' })
      async get(args: { orgId: string; userId: string }) {
        calls++
        return args.userId.toUpperCase()
      }
    }
    const users = new Users()
    expect(await users.get({ orgId: 'o', userId: 'u' })).toBe('U')
    expect(await users.get({ orgId: 'o', userId: 'u' })).toBe('U')
    expect(calls).toBe(1)
  })
})

/** A storage whose every operation fails, to check that memoized calls fail open. */
class BrokenStorage implements StorageProvider {
  readonly storageType: string = 'broken'
  readonly supportsBounds = false
  attach(_context: StorageContext): void {}
  async get(_ref: EntryRef): Promise<unknown> {
    throw new Error('connection refused')
  }
  async set(_ref: EntryRef, _value: unknown): Promise<void> {
    throw new Error('connection refused')
  }
  async delete(): Promise<boolean> {
    throw new Error('connection refused')
  }
  async evictScope(_path: ScopePath): Promise<number> {
    throw new Error('connection refused')
  }
  async size(): Promise<number> {
    throw new Error('connection refused')
  }
  async close(): Promise<void> {}
}

describe('fail-open memoization over a failing storage', () => {
  it('returns the function’s result and reports the error event', async () => {
    const cache = new Cache({ storage: new BrokenStorage() })
    const errors: [CacheError, string][] = []
    cache.on('error', (error, { operation }) => errors.push([error, operation]))
    const double = cache.cache()(function double(n: number) {
      return n * 2
    })
    const result = double(21)
    expect(result).toBeInstanceOf(Promise)
    expect(await result).toBe(42)
    expect(errors.map(([e, op]) => [e.name, e.code, op])).toEqual([
      ['StorageError', 'ERR_CACHEADO_STORAGE', 'get'],
      ['StorageError', 'ERR_CACHEADO_STORAGE', 'set'],
    ])
    expect(errors[0]![0].cause).toBeInstanceOf(Error)
    await expect(cache.get('k')).rejects.toThrow('broken storage failed during get: connection refused')
    expect(MISS).toBeDefined()
  })
})

/** Reads answer what was stored when they were issued, after a delay: a slow remote backend. */
class SlowReadStorage extends BrokenStorage {
  override readonly storageType = 'slow'
  readonly #map = new Map<string, unknown>()
  override async get(ref: EntryRef): Promise<unknown> {
    const snapshot = this.#map.has(ref.key) ? this.#map.get(ref.key) : MISS
    await new Promise((resolve) => setTimeout(resolve, 30))
    return snapshot
  }
  override async set(ref: EntryRef, value: unknown): Promise<void> {
    this.#map.set(ref.key, value)
  }
}

describe('single flight over a slow async storage', () => {
  it('a read issued before a flight finished does not run the function again', async () => {
    const cache = new Cache({ storage: new SlowReadStorage() })
    let calls = 0
    const load = cache.cache()(async function slowRead(id: number) {
      calls++
      return id
    })
    const first = load(1)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = load(1) // its read is issued while the first is still reading: both see a miss
    expect(await Promise.all([first, second])).toEqual([1, 1])
    expect(calls).toBe(1)
    expect(await load(1)).toBe(1)
    expect(calls).toBe(1)
  })
})
