// Byte budgets in memory and in the local tier: the size estimate, `sizeOf`, hostile sizes and values,
// the typed refusal of an entry larger than a budget, and `local.maxBytes`.
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { StorageProvider } from '../../src/index.js'
import {
  Cache,
  ConfigurationError,
  EntryTooLargeError,
  ESTIMATE_NODE_CAP,
  estimateSize,
  InMemory,
  LRUEvict,
  MaxItemsEvict,
  ScopeConfig,
  ScopeLevel,
  TinyLFUEvict,
} from '../../src/index.js'
import { MemoryStore } from '../../src/storage/memory/store.js'
import { redisTargets } from '../support/redis-targets.js'
import { uniqueName } from '../support/services.js'

const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const org = (orgId: string) => ({ scope: 'organization', orgId }) as const

describe('estimateSize', () => {
  it('counts strings at 2 bytes per UTF-16 unit, numbers at 8, and walks objects', () => {
    expect(estimateSize('')).toBe(16)
    expect(estimateSize('abcd')).toBe(24)
    expect(estimateSize('😀')).toBe(20) // two UTF-16 units (4 bytes of UTF-8)
    expect(estimateSize(1)).toBe(8)
    expect(estimateSize(true)).toBe(8)
    expect(estimateSize(null)).toBe(8)
    expect(estimateSize(10n)).toBe(16)
    expect(estimateSize({ a: 'xy' })).toBe(32 + 18 + 20)
    expect(estimateSize([1, 2])).toBe(16 + 16 + 16)
    expect(estimateSize(new Uint8Array(1000))).toBe(1064)
    expect(estimateSize(new Map([['k', 1]]))).toBe(32 + 16 + 18 + 8)
    expect(estimateSize(new Set(['k']))).toBe(32 + 16 + 18)
    expect(estimateSize(new Date(0))).toBe(32)
  })

  it('counts a cycle or a shared object once, and stops after the node cap', () => {
    const a: Record<string, unknown> = { name: 'a' }
    a.self = a
    expect(estimateSize(a)).toBe(32 + 20 + 26 + 20)
    const shared = { x: 'y'.repeat(100) }
    expect(estimateSize([shared, shared])).toBeLessThan(2 * estimateSize(shared))
    const wide = Array.from({ length: ESTIMATE_NODE_CAP * 3 }, (_, i) => i)
    const started = performance.now()
    const size = estimateSize(wide)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(size).toBeGreaterThanOrEqual(16 + 8 * wide.length) // the slots are counted, the walk is capped
  })

  it('never under-counts a string’s UTF-8 length (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(estimateSize(s)).toBeGreaterThanOrEqual(Buffer.byteLength(s, 'utf8'))
      }),
      { numRuns: 500 },
    )
  })
})

describe('byte budgets in memory', () => {
  it('LRUEvict({ maxBytes }) with sizeOf: the bound counts the user’s sizes, per scope', () => {
    const cache = new Cache({
      scopes,
      rules: [new LRUEvict({ maxBytes: 10, per: 'organization', sizeOf: (v) => (v as string).length })],
    })
    for (let i = 0; i < 6; i++) cache.setSync(`k${i}`, 'abc', org('o1')) // 3 bytes each: 3 fit
    cache.setSync('q', 'abcdefghij', org('o2'))
    expect(cache.statsSync().totalKeys).toBe(4)
    expect(cache.getSync('k5', org('o1'))).toBe('abc')
    expect(cache.getSync('k2', org('o1'))).toBeUndefined()
    expect(cache.statsSync().bytes).toEqual({
      total: 19,
      top: [
        { scope: [{ level: 'organization', id: 'o2' }], bytes: 10 },
        { scope: [{ level: 'organization', id: 'o1' }], bytes: 9 },
      ],
    })
    expect(() => cache.setSync('big', 'abcdefghijk', org('o1'))).toThrow(EntryTooLargeError)
  })

  it('a sizeOf that throws or answers NaN, -1 or Infinity fails that write only, with nothing stored', () => {
    for (const answer of [Number.NaN, -1, Number.POSITIVE_INFINITY, '3', new Error('boom')]) {
      const cache = new Cache({
        rules: [
          new MaxItemsEvict({
            maxBytes: 100,
            sizeOf: (v) => {
              if (v === 'bad') {
                if (answer instanceof Error) throw answer
                return answer as number
              }
              return 1
            },
          }),
        ],
      })
      cache.setSync('a', 'ok')
      expect(() => cache.setSync('b', 'bad')).toThrow(/sizeOf/)
      expect(() => cache.setSync('a', 'bad')).toThrow(/sizeOf/)
      expect(cache.getSync('a')).toBe('ok')
      expect(cache.getSync('b')).toBeUndefined()
      expect(cache.statsSync().bytes?.total).toBe(1)
    }
  })

  it('refuses a huge value at once (no eviction of anything else), with a message saying how to fix it', () => {
    const cache = new Cache({ rules: [new LRUEvict({ maxItems: 100, maxBytes: 1 << 20 })] })
    cache.setSync('keep', 'x')
    const huge = 'x'.repeat(8 << 20)
    let error: unknown
    try {
      cache.setSync('huge', huge)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(EntryTooLargeError)
    expect((error as EntryTooLargeError).size).toBe(16 + 2 * huge.length)
    expect((error as EntryTooLargeError).maxBytes).toBe(1 << 20)
    expect((error as Error).message).toMatch(/raise maxBytes/)
    expect(cache.getSync('keep')).toBe('x')
    expect(cache.statsSync().evictions).toBe(0)
  })

  it('TinyLFUEvict({ maxBytes }) alone holds the budget; the newest entry is always kept', () => {
    const cache = new Cache({ rules: [new TinyLFUEvict({ maxBytes: 5000 })] })
    for (let i = 0; i < 2000; i++) {
      cache.setSync(`k${i % 300}`, 'v'.repeat(i % 50))
      expect(cache.getSync(`k${i % 300}`)).toBe('v'.repeat(i % 50))
      expect(cache.statsSync().bytes!.total).toBeLessThanOrEqual(5000)
    }
  })

  it('property: after any sequence of writes, overwrites, deletes and scope evictions, every budget holds and the byte counters match the entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(4), fc.nat(2), fc.nat(9), fc.string({ maxLength: 60 })), { maxLength: 200 }),
        fc.constantFrom('lru', 'insertion', 'tinylfu'),
        (ops, order) => {
          const Rule = order === 'lru' ? LRUEvict : order === 'insertion' ? MaxItemsEvict : TinyLFUEvict
          const store = new MemoryStore()
          store.configure({
            bounds: [
              new Rule({ maxBytes: 300, per: 'organization' }).bound,
              new LRUEvict({ maxItems: 20, maxBytes: 700 }).bound,
            ],
            onEvicted: () => undefined,
            wantsEvictedRefs: false,
          })
          for (const [op, o, k, value] of ops) {
            const ref = { scope: [{ level: 'organization', id: `o${o}` }], key: `k${k}` }
            if (op === 0) store.delete(ref)
            else if (op === 1 && k === 0) store.evictScope(ref.scope)
            else store.set(ref, value, undefined)
            const usage = store.byteUsage(100)!
            let sum = 0
            for (let id = 0; id < 3; id++) {
              const scope = [{ level: 'organization', id: `o${id}` }]
              let bytes = 0
              for (const [, v] of store.list(scope)) bytes += estimateSize(v)
              expect(bytes).toBeLessThanOrEqual(300)
              expect(usage.top.find((t) => t.scope[0]?.id === `o${id}`)?.bytes ?? 0).toBe(bytes)
              sum += bytes
            }
            expect(usage.total).toBe(sum)
            expect(sum).toBeLessThanOrEqual(700)
            expect(store.size()).toBeLessThanOrEqual(20)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('local.maxBytes is checked: 0, negative, NaN and Infinity are refused', () => {
    for (const maxBytes of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 1.5]) {
      expect(() => new Cache({ storage: fakeShared(), local: { maxBytes, bus: false } })).toThrow(
        ConfigurationError,
      )
    }
  })

  it('fairness (a share of a count of entries) is refused with maxBytes, on a rule and on the local tier', () => {
    for (const Rule of [LRUEvict, MaxItemsEvict, TinyLFUEvict]) {
      expect(() => new Rule({ maxItems: 10, maxBytes: 1000, fairness: 'per-user' })).toThrow(
        /cannot be combined with maxBytes/,
      )
      expect(() => new Rule({ maxItems: 10, fairness: 'per-user' })).not.toThrow()
    }
    expect(
      () => new Cache({ storage: fakeShared(), local: { maxBytes: 1000, fairness: 'per-user', bus: false } }),
    ).toThrow(/cannot be combined with local.maxBytes/)
  })

  it('sizeOf on a shared storage is refused (sizes there are the serialized bytes)', () => {
    expect(
      () =>
        new Cache({ storage: fakeShared(true), rules: [new LRUEvict({ maxBytes: 10, sizeOf: () => 1 })] }),
    ).toThrow(/sizeOf applies to in-memory storages only/)
    expect(() => new Cache({ storage: fakeShared(false), rules: [new LRUEvict({ maxBytes: 10 })] })).toThrow(
      /maxBytes is not enforced by the fake storage/,
    )
  })
})

/** A minimal shared storage (no sync side) for construction checks. */
function fakeShared(bytes = false): StorageProvider {
  const memory = new InMemory()
  return {
    storageType: 'fake',
    supportsBounds: true,
    supportsByteBounds: bytes,
    attach: (context) => memory.attach(context),
    get: (ref) => memory.get(ref),
    set: (ref, value, ttl) => memory.set(ref, value, ttl),
    delete: (ref) => memory.delete(ref),
    evictScope: (path) => memory.evictScope(path),
    size: () => memory.size(),
    close: () => memory.close(),
  }
}

const targets = redisTargets()
const opened: Cache<typeof scopes, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

describe.skipIf(targets.length === 0).each(targets)('local.maxBytes over Redis ($name)', (target) => {
  it('keeps local copies within the budget; a value too large for L1 is still stored and read from Redis', async () => {
    const cache = new Cache({
      scopes,
      storage: target.storage(uniqueName('l1bytes')),
      local: { maxBytes: 2000, bus: false },
    })
    opened.push(cache)
    for (let i = 0; i < 40; i++) await cache.set(`k${i}`, 'v'.repeat(100), org('o1')) // 216 bytes each locally
    const tier = (cache as unknown as { storage: StorageProvider }).storage
    expect(tier.storageType).toBe('redis')
    await cache.set('big', 'x'.repeat(5000), org('o1'))
    expect(await cache.get('big', org('o1'))).toBe('x'.repeat(5000)) // from Redis, not kept locally
    await cache.set('small', 'old', org('o1'))
    expect(await cache.get('small', org('o1'))).toBe('old')
    await cache.set('small', 'y'.repeat(5000), org('o1')) // the old local copy must not be served
    expect(await cache.get('small', org('o1'))).toBe('y'.repeat(5000))
    expect((await cache.stats()).totalKeys).toBe(42)
  })
})

describe('LocalTier with maxBytes', () => {
  it('keeps at most maxBytes of copies; a copy too large is not kept and drops the older one', async () => {
    const { LocalTier } = await import('../../src/tiers/local-tier.js')
    const { MISS } = await import('../../src/storage/contract.js')
    for (const policy of ['lru', 'tinylfu'] as const) {
      const tier = new LocalTier({ policy, maxItems: 1000, maxBytes: 2000 }, 60_000, true, () => undefined)
      const ref = (key: string) => ({ scope: [], key })
      for (let i = 0; i < 50; i++)
        tier.written(ref(`k${i}`), 'v'.repeat(100), undefined, Date.now(), tier.begin())
      expect(tier.size).toBeLessThanOrEqual(9) // 216 bytes each
      expect(tier.size).toBeGreaterThanOrEqual(8)
      expect(tier.get(ref('k49'))).toBe('v'.repeat(100))
      tier.written(ref('k49'), 'w'.repeat(5000), undefined, Date.now(), tier.begin())
      expect(tier.get(ref('k49'))).toBe(MISS)
      tier.close()
    }
  })
})
