import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CounterIndex } from '../../src/observability/top-k.js'
import { EVICTIONS, HITS, MISSES, SETS, TopK } from '../../src/observability/top-k.js'

const KEYS = ['hits', 'misses', 'sets', 'evictions'] as const

describe('TopK (space-saving)', () => {
  it('property: never more than capacity buckets; tracked + other add up to everything recorded', () => {
    const op = fc.record({
      label: fc.integer({ min: 0, max: 30 }).map((n) => `t${n}`),
      counter: fc.constantFrom<CounterIndex>(HITS, MISSES, SETS, EVICTIONS),
      n: fc.integer({ min: 1, max: 5 }),
    })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const top = new TopK<string>(capacity)
        const totals = [0, 0, 0, 0]
        const exact = new Map<string, number>()
        for (const { label, counter, n } of ops) {
          top.add(label, counter, n, label)
          totals[counter]! += n
          exact.set(label, (exact.get(label) ?? 0) + n)
        }
        const report = top.report()
        expect(top.size).toBeLessThanOrEqual(capacity)
        expect(report.top.length).toBe(top.size)
        KEYS.forEach((key, i) => {
          const sum = report.top.reduce((s, b) => s + b[key], 0) + report.other[key]
          expect(sum).toBe(totals[i])
        })
        const all = totals.reduce((a, b) => a + b, 0)
        for (const bucket of report.top) {
          expect(bucket.detail).toBe(bucket.label)
          // a tracked bucket's counts never exceed its true activity
          const own = KEYS.reduce((s, k) => s + bucket[k], 0)
          expect(own).toBeLessThanOrEqual(exact.get(bucket.label)!)
        }
        // the space-saving guarantee: whatever has more than total / capacity of the activity is tracked
        for (const [label, count] of exact) {
          if (count > all / capacity) expect(report.top.map((b) => b.label)).toContain(label)
        }
        // with no more labels than slots, every count is exact
        if (exact.size <= capacity) {
          expect(report.other).toEqual({ hits: 0, misses: 0, sets: 0, evictions: 0 })
          for (const bucket of report.top)
            expect(KEYS.reduce((s, k) => s + bucket[k], 0)).toBe(exact.get(bucket.label))
        }
      }),
      { numRuns: 500 },
    )
  })

  it('a million one-off tenants cannot push out the heavy ones, and memory stays at capacity', () => {
    // big-a has 100k of 1.15M operations, more than 1.15M / 100: the guarantee keeps it, counted exactly
    const top = new TopK<undefined>(100)
    for (let i = 0; i < 1_000_000; i++) {
      top.add(`tenant-${i}`, HITS, 1, undefined)
      if (i % 10 === 0) top.add('big-a', HITS, 1, undefined)
      if (i % 20 === 0) top.add('big-b', MISSES, 1, undefined)
    }
    const { top: buckets, other } = top.report()
    expect(top.size).toBe(100)
    expect(buckets.slice(0, 2).map((b) => [b.label, b.hits, b.misses])).toEqual([
      ['big-a', 100_000, 0],
      ['big-b', 0, 50_000],
    ])
    const tracked = buckets.reduce((s, b) => s + b.hits, 0)
    expect(tracked + other.hits).toBe(1_100_000)
  })

  it('reports most active first, ties by label', () => {
    const top = new TopK<number>(3)
    top.add('b', SETS, 2, 1)
    top.add('a', SETS, 2, 2)
    top.add('c', HITS, 5, 3)
    top.add('c', EVICTIONS, 1, 99)
    expect(top.report().top.map((b) => [b.label, b.detail, b.sets, b.hits, b.evictions])).toEqual([
      ['c', 3, 0, 5, 1],
      ['a', 2, 2, 0, 0],
      ['b', 1, 2, 0, 0],
    ])
  })
})
