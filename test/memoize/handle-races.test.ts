// A memoized function over InMemory keeps, per argument, a handle to its stored entry, so that a hit
// skips the key lookup (`Operations.readSyncCached`). Every way an entry leaves the store must make that
// handle stale: an eviction of the entry, a clear, a tag invalidation, expiry, a bound evicting it.
// fast-check drives random sequences of memoized calls and of those removals against a model; each
// result carries the number of the computation that produced it, and a call issued after a removal
// must answer a result computed after it (never the removed one through a stale handle).
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Cache, InMemory, LRUEvict } from '../../src/index.js'

/** What a memoized call answers: its argument and the computation that produced it. */
interface Result {
  readonly n: number
  readonly computation: number
}

type Step =
  | { readonly kind: 'call'; readonly fn: 0 | 1; readonly n: number }
  | { readonly kind: 'evict'; readonly fn: 0 | 1; readonly n: number }
  | { readonly kind: 'clear' }
  | { readonly kind: 'tags'; readonly tag: number }
  | { readonly kind: 'expire' }
  | { readonly kind: 'direct'; readonly n: number }

const ARGS = 6
const BOUND = 8
const TTL_SECONDS = 5

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      fn: fc.constantFrom(0 as const, 1 as const),
      n: fc.nat(ARGS - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('evict' as const),
      fn: fc.constantFrom(0 as const, 1 as const),
      n: fc.nat(ARGS - 1),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tags' as const), tag: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('direct' as const), n: fc.nat(ARGS - 1) }) },
)

/** The argument number of a call: `n`, or `'a' + n` (string arguments). */
const num = (arg: number | string): number => (typeof arg === 'number' ? arg : Number(arg.slice(1)))

/** Runs `steps` on a fresh cache and checks every call's answer against the model. */
function replay(steps: readonly Step[], numericArgs: boolean): void {
  let clock = 1_000_000
  vi.spyOn(Date, 'now').mockImplementation(() => clock)
  // A small bound: direct writes and the two functions' entries evict each other's entries.
  const cache = new Cache({ storage: new InMemory(), rules: [new LRUEvict({ maxItems: BOUND })] })
  // A read through a broken handle could fail and be served as a miss (memoizers fail open): none may.
  const errors: string[] = []
  cache.on('error', (error, { operation }) => errors.push(`${operation}: ${error.message}`))
  let computations = 0
  const make = (namespace: string, key?: (n: number | string) => unknown) =>
    cache.cache({
      namespace,
      ttlSeconds: TTL_SECONDS,
      tags: (n: number | string) => [`t${num(n) % 3}`],
      ...(key === undefined ? {} : { key }),
    })((n: number | string): Result => ({ n: num(n), computation: ++computations }))
  // The second function derives its key from its argument (its handles are kept per derived key).
  const fns = [make('f'), make('g', (n) => `key-${num(n)}`)]
  // Per function and argument: the first computation a call may answer (after a removal), and the
  // last one answered (answers never go back to an older result).
  const floor = [new Array<number>(ARGS).fill(0), new Array<number>(ARGS).fill(0)]
  const last = [new Array<number>(ARGS).fill(0), new Array<number>(ARGS).fill(0)]
  const removeAll = (which: (n: number) => boolean) => {
    for (const f of floor) for (let n = 0; n < ARGS; n++) if (which(n)) f[n] = computations + 1
  }
  const arg = (n: number) => (numericArgs ? n : `a${n}`)
  for (const s of steps) {
    switch (s.kind) {
      case 'call': {
        const result = fns[s.fn]!(arg(s.n) as never)
        expect(result.n).toBe(s.n)
        expect(result.computation).toBeGreaterThanOrEqual(floor[s.fn]![s.n]!)
        expect(result.computation).toBeGreaterThanOrEqual(last[s.fn]![s.n]!)
        last[s.fn]![s.n] = result.computation
        // What the call answered is what the store holds (by ref, not through the handle): a hit
        // through the handle of an entry the bound evicted would answer a result the store lost.
        expect(fns[s.fn]!.peek(arg(s.n) as never)).toBe(result)
        break
      }
      case 'evict':
        fns[s.fn]!.evict(arg(s.n) as never)
        floor[s.fn]![s.n] = computations + 1
        break
      case 'clear':
        cache.clearSync()
        removeAll(() => true)
        break
      case 'tags':
        cache.invalidateTagsSync([`t${s.tag}`])
        removeAll((n) => n % 3 === s.tag)
        break
      case 'expire':
        clock += TTL_SECONDS * 1000 + 1
        removeAll(() => true)
        break
      case 'direct':
        cache.setSync(`direct-${s.n}`, s.n)
        break
    }
  }
  expect(errors).toEqual([])
  vi.restoreAllMocks()
}

describe('memoized hits through cached entry handles', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  for (const numericArgs of [true, false]) {
    it(`never answer a removed result (${numericArgs ? 'number' : 'string'} arguments, 300 random sequences)`, () => {
      fc.assert(
        fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => replay(steps, numericArgs)),
        { numRuns: 300 },
      )
    })
  }

  it('a hit after each kind of removal recomputes (each repeated 60 times)', () => {
    for (let i = 0; i < 60; i++) {
      for (const removal of ['evict', 'clear', 'tags', 'expire'] as const) {
        const removalStep: Step =
          removal === 'evict'
            ? { kind: 'evict', fn: 0, n: i % ARGS }
            : removal === 'tags'
              ? { kind: 'tags', tag: (i % ARGS) % 3 }
              : { kind: removal }
        // Two calls take and use the handle; the third follows the removal.
        const call: Step = { kind: 'call', fn: 0, n: i % ARGS }
        replay([call, call, removalStep, call, call], i % 2 === 0)
      }
    }
  })

  it('a handle whose entry the bound evicted is not read (the entry is recomputed, 60 times)', () => {
    for (let i = 0; i < 60; i++) {
      const n = i % ARGS
      const steps: Step[] = [
        { kind: 'call', fn: 0, n },
        { kind: 'call', fn: 0, n },
      ]
      for (let d = 0; d <= BOUND; d++)
        steps.push({ kind: 'direct', n: (d + i) % ARGS }, { kind: 'call', fn: 1, n: d % ARGS })
      steps.push({ kind: 'call', fn: 0, n }, { kind: 'call', fn: 0, n })
      replay(steps, i % 2 === 0)
    }
  })
})
