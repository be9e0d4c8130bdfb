/**
 * The hit-ratio suite (`npm run bench -- hit-ratio`): how many reads hit, for lru-cache, our
 * `LRUEvict` and our `TinyLFUEvict`, replaying the same seeded access streams (see `workloads.ts`) in
 * one run; then the cost of a hit through the `Cache` facade with each rule.
 *
 * A replay reads each key of the stream and, on a miss, writes it (read-through). Our caches are
 * driven through the facade (`getSync`/`setSync` on the in-memory storage), lru-cache through
 * `get`/`set`. Streams are generated from fixed seeds: the hit ratios are the same on every machine and
 * Node version; only the throughput table varies.
 *
 * This suite runs only when named, and writes `bench/results/hit-ratio-node<major>.md` (not the
 * `node<major>.md` of the full run).
 */
import { LRUCache } from 'lru-cache'
import { Cache, LRUEvict, TinyLFUEvict } from '../src/index.js'
import type { CacheRule } from '../src/index.js'
import type { Case } from './harness.js'
import { measure } from './harness.js'
import type { Scenario, Section, Suite, TargetCheck } from './report.js'
import { atLeastPaired, ratioSection, runScenarios } from './report.js'
import { loopStream, recencyStream, scanMixStream, zipfStream } from './workloads.js'

/** Accesses per stream. */
const LENGTH = 1_000_000
/** Cache sizes the ratios are measured at (entries). */
const SIZES = [1_000, 4_000, 8_000] as const

/** One access pattern: how to make its stream for a cache of `size` entries. */
interface Pattern {
  readonly name: string
  readonly description: string
  readonly stream: (size: number) => Int32Array
}

const PATTERNS: readonly Pattern[] = [
  {
    name: 'zipf(0.99)',
    description: '100 000 keys, zipf(0.99) popularity, keys scattered by a seeded permutation',
    stream: () => zipfStream(LENGTH, 100_000, 0.99, 1),
  },
  {
    name: 'scan + hot set',
    description:
      'a hot set as large as the cache read zipf(0.8); 30% of accesses are a one-pass scan of fresh keys',
    stream: (size) => scanMixStream(LENGTH, size, 0.3, 2),
  },
  {
    name: 'loop (1.1 x cache)',
    description: 'keys 0..1.1 x size - 1 read in order, over and over',
    stream: (size) => loopStream(LENGTH, Math.round(size * 1.1)),
  },
  {
    name: 'recency-skewed',
    description:
      '20% of accesses create a new key; the others read a key created recently (age exponential, mean size / 4)',
    stream: (size) => recencyStream(LENGTH, 0.2, size / 4, 3),
  },
]

/** Key strings, shared by every replay (built once: the replays compare policies, not string building). */
const names: string[] = []
function keyNames(count: number): string[] {
  while (names.length < count) names.push(`key:${names.length}`)
  return names
}

function replayLruCache(stream: Int32Array, size: number): number {
  const lru = new LRUCache<string, number>({ max: size })
  const keys = keyNames(maxKey(stream) + 1)
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const key = keys[stream[i]!]!
    if (lru.get(key) !== undefined) hits++
    else lru.set(key, 1)
  }
  return hits / stream.length
}

function replayOurs(stream: Int32Array, rule: CacheRule): number {
  const cache = new Cache({ rules: [rule] })
  const keys = keyNames(maxKey(stream) + 1)
  let hits = 0
  for (let i = 0; i < stream.length; i++) {
    const key = keys[stream[i]!]!
    if (cache.getSync(key) !== undefined) hits++
    else cache.setSync(key, 1)
  }
  void cache.close()
  return hits / stream.length
}

function maxKey(stream: Int32Array): number {
  let max = 0
  for (let i = 0; i < stream.length; i++) if (stream[i]! > max) max = stream[i]!
  return max
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(2)}%`
const points = (delta: number) => `${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(2)}`

function ratioSections(): Section[] {
  const sections: Section[] = []
  for (const size of SIZES) {
    const rows: string[][] = []
    const targets: TargetCheck[] = []
    for (const pattern of PATTERNS) {
      const stream = pattern.stream(size)
      const peer = replayLruCache(stream, size)
      const lru = replayOurs(stream, new LRUEvict({ maxItems: size }))
      const tiny = replayOurs(stream, new TinyLFUEvict({ maxItems: size }))
      const delta = tiny - Math.max(peer, lru)
      rows.push([pattern.name, percent(peer), percent(lru), percent(tiny), points(delta)])
      if (pattern.name.startsWith('zipf')) {
        targets.push({
          name: `TinyLFUEvict hit ratio over LRU, ${pattern.name}, ${size} entries`,
          target: '>= +5 points',
          measured: points(delta),
          met: delta >= 0.05,
        })
      }
      targets.push({
        name: `TinyLFUEvict hit ratio against LRU, ${pattern.name}, ${size} entries`,
        target: '>= -1 point',
        measured: points(delta),
        met: delta >= -0.01,
      })
    }
    sections.push({
      title: `hit ratio, ${size.toLocaleString('en-US')} entries, ${LENGTH.toLocaleString('en-US')} accesses per stream`,
      notes: [
        'read-through replay: get, and set on a miss; our rules through the Cache facade on the in-memory storage',
        '"vs LRU": TinyLFUEvict minus the better of lru-cache and LRUEvict, in points',
        ...PATTERNS.map((p) => `${p.name}: ${p.description}`),
      ],
      headers: ['pattern', 'lru-cache', 'LRUEvict', 'TinyLFUEvict', 'vs LRU (points)'],
      rows,
      targets,
    })
  }
  return sections
}

/** Number of keys of the throughput cases (a power of two), and their bound: nothing is evicted. */
const KEYS = 16_384
const MASK = KEYS - 1

async function throughputSections(): Promise<Section[]> {
  const keys = keyNames(KEYS)
  const make = (rule: CacheRule) => {
    const cache = new Cache({ rules: [rule] })
    for (let i = 0; i < KEYS; i++) cache.setSync(keys[i]!, i)
    return cache
  }
  // Bound = the number of keys: full, so TinyLFU's sketch is in use, and nothing is evicted.
  const lru = make(new LRUEvict({ maxItems: KEYS }))
  const tiny = make(new TinyLFUEvict({ maxItems: KEYS }))
  const hitCase = (name: string, cache: Cache): Case => ({
    name,
    run: (ops) => {
      let sum = 0
      for (let i = 0; i < ops; i++) sum += cache.getSync(keys[i & MASK]!) as number
      return sum
    },
  })
  const zipf = zipfStream(1 << 20, 100_000, 0.99, 4)
  const zipfKeys = keyNames(100_000)
  const replayCase = (name: string, rule: CacheRule): Case => {
    const cache = new Cache({ rules: [rule] })
    let at = 0
    return {
      name,
      run: (ops) => {
        let hits = 0
        for (let i = 0; i < ops; i++) {
          const key = zipfKeys[zipf[at++ & ((1 << 20) - 1)]!]!
          if (cache.getSync(key) !== undefined) hits++
          else cache.setSync(key, 1)
        }
        return hits
      },
    }
  }
  const hits = await measure([
    hitCase('TinyLFUEvict getSync hit', tiny),
    hitCase('LRUEvict getSync hit', lru),
  ])
  const replay = await measure([
    replayCase('TinyLFUEvict zipf replay', new TinyLFUEvict({ maxItems: 1_000 })),
    replayCase('LRUEvict zipf replay', new LRUEvict({ maxItems: 1_000 })),
  ])
  await lru.close()
  await tiny.close()
  return [
    {
      ...ratioSection(
        'get-hit through the Cache facade (sync, in memory)',
        hits,
        'TinyLFUEvict getSync hit',
        [
          `${KEYS} keys prefilled, bound ${KEYS} (full, so the sketch counts every hit; nothing is evicted); "ours / this": TinyLFUEvict against the row`,
        ],
      ),
      targets: [
        atLeastPaired(
          'TinyLFUEvict hit vs LRUEvict hit (throughput)',
          hits,
          'TinyLFUEvict getSync hit',
          'LRUEvict getSync hit',
          0.5,
        ),
      ],
    },
    ratioSection(
      'zipf(0.99) read-through replay, 1 000 entries (get, set on a miss)',
      replay,
      'TinyLFUEvict zipf replay',
      ['mixed cost of hits, misses, writes and evictions; TinyLFU also misses less, so it writes less'],
    ),
  ]
}

const scenarios: Scenario[] = [
  { name: 'ratios', run: ratioSections },
  { name: 'throughput', run: throughputSections },
]

/** The suite: hit ratios beside lru-cache and our LRU, and the cost of a TinyLFU hit. */
export const suite: Suite = {
  name: 'hit-ratio',
  description: 'hit ratios of lru-cache, LRUEvict and TinyLFUEvict on seeded streams; cost of a hit',
  scenarios: scenarios.map((s) => s.name),
  run: (context) => runScenarios(scenarios, context),
}
