import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ArgsKeyCache } from '../../src/keys/args-key-cache.js'
import { canonicalArgs } from '../../src/keys/canonical.js'

describe('ArgsKeyCache', () => {
  it('property: always equals prefix + canonicalArgs, before and after reuse and resets', () => {
    const cache = new ArgsKeyCache('#m:f:', 4)
    const arg = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.string(),
      fc.constantFrom(-0, Number.NaN, Infinity),
      fc.boolean(),
    )
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 2 }), (args) => {
        expect(cache.of(args)).toBe('#m:f:' + canonicalArgs(args))
        expect(cache.of(args)).toBe('#m:f:' + canonicalArgs(args))
      }),
      { numRuns: 1000 },
    )
  })

  it('returns the same string object for a repeated primitive argument', () => {
    const cache = new ArgsKeyCache('p:')
    expect(cache.of([7])).toBe('p:[7]')
    expect(cache.of(['7'])).toBe('p:["7"]')
    expect(cache.of([-0])).toBe('p:[0]')
    expect(cache.of([{ a: 1 }])).toBe('p:[{"a":1}]')
  })
})
