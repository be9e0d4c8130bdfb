import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../src/index.js'
import { canonicalArgs } from '../../src/keys/canonical.js'
import { directKey, isMemoKey, memoKeyPrefix } from '../../src/keys/entry-key.js'

describe('canonicalArgs', () => {
  it('tells types apart: 1, "1", 1n, true, 1.0 and null/undefined', () => {
    const keys = [[1], ['1'], [1n], [true], [null], [undefined], [[1]], [{ 1: 1 }]].map(canonicalArgs)
    expect(new Set(keys).size).toBe(keys.length)
    expect(canonicalArgs([1.0])).toBe(canonicalArgs([1]))
    expect(canonicalArgs([-0])).toBe(canonicalArgs([0]))
  })

  it('ignores object key order and undefined-valued properties', () => {
    expect(canonicalArgs([{ a: 1, b: { c: 2, d: 3 } }])).toBe(canonicalArgs([{ b: { d: 3, c: 2 }, a: 1 }]))
    expect(canonicalArgs([{ a: 1, b: undefined }])).toBe(canonicalArgs([{ a: 1 }]))
  })

  it('encodes Date, Map, Set, bytes and URL by value; Map/Set order does not matter', () => {
    expect(canonicalArgs([new Date(5)])).toBe(canonicalArgs([new Date(5)]))
    expect(canonicalArgs([new Date(5)])).not.toBe(canonicalArgs([5]))
    expect(canonicalArgs([new Date(Number.NaN)])).toBe('[DNaN]')
    expect(
      canonicalArgs([
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ]),
    ).toBe(
      canonicalArgs([
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ]),
    )
    expect(canonicalArgs([new Set([1, 2])])).toBe(canonicalArgs([new Set([2, 1])]))
    expect(canonicalArgs([new Set([1])])).not.toBe(canonicalArgs([[1]]))
    expect(canonicalArgs([Buffer.from('hi')])).toBe(canonicalArgs([new Uint8Array([104, 105])]))
    expect(canonicalArgs([new URL('https://x.test/a')])).toBe('[U"https://x.test/a"]')
    expect(canonicalArgs([Object.create(null) as object])).toBe('[{}]')
  })

  it('is deterministic across calls (no identity, no salt)', () => {
    const make = () => [{ user: 'u1', filters: [1, 'x', null], at: new Date(0) }]
    expect(canonicalArgs(make())).toBe(canonicalArgs(make()))
    expect(canonicalArgs(make())).toMatchInlineSnapshot(`"[{"at":D0,"filters":[1,"x",n],"user":"u1"}]"`)
  })

  it.each([
    [[() => 1], /args\[0\]: a function has no stable value/],
    [[{ s: Symbol('x') }], /args\[0\]\.s: a symbol/],
    [[new (class Point {})()], /instances of Point are not supported/],
    [[new Map([[1, () => 1]])], /args\[0\]<value 0>/],
  ])('refuses unsupported arguments with a clear error naming where (%#)', (args, message) => {
    expect(() => canonicalArgs(args)).toThrow(InvalidArgumentError)
    expect(() => canonicalArgs(args)).toThrow(message)
  })

  it('refuses cycles', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    expect(() => canonicalArgs([a])).toThrow(/args\[0\]\.self: it contains a cycle/)
    const shared = { x: 1 }
    expect(() => canonicalArgs([shared, shared, [shared]])).not.toThrow()
  })

  it('property: different JSON-like values get different keys, equal ones the same', () => {
    const value = fc.jsonValue()
    fc.assert(
      fc.property(value, value, (a, b) => {
        const same = canonicalArgs([a]) === canonicalArgs([b])
        expect(same).toBe(
          canonicalArgs([JSON.parse(JSON.stringify(a))]) === canonicalArgs([JSON.parse(JSON.stringify(b))]),
        )
        if (!same) expect(JSON.stringify(sortKeys(a))).not.toBe(JSON.stringify(sortKeys(b)))
      }),
      { numRuns: 300 },
    )
  })
})

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    )
  }
  return Object.is(value, -0) ? 0 : value
}

describe('entry keys', () => {
  it('direct keys map injectively and never into the memoized key space', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(directKey(a) === directKey(b)).toBe(a === b)
        expect(isMemoKey(directKey(a))).toBe(false)
      }),
    )
    expect(directKey('plain')).toBe('plain')
    expect(directKey('#m:x')).toBe('##m:x')
  })

  it('memo prefixes escape the separator so namespaces cannot forge each other', () => {
    expect(memoKeyPrefix('a:b')).not.toBe(memoKeyPrefix('a') + 'b:')
    expect(memoKeyPrefix('a%3Ab')).not.toBe(memoKeyPrefix('a:b'))
    expect(isMemoKey(memoKeyPrefix('x') + '[1]')).toBe(true)
  })
})
