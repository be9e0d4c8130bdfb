/**
 * The fairness suite (`npm run bench -- fairness`): fair share on a cache-wide bound
 * (`fairness: 'per-organization'`, issue 15 item 2).
 *
 * - `ratios`: 50 quiet organizations read 40 keys each (zipf 0.99 within a tenant) through a bound of
 *   1 000; a noisy organization reads, as often as all the quiet ones together, uniformly from 2 000
 *   keys. The quiet tenants' hit ratio, alone and beside the noisy tenant, with and without fairness,
 *   for each order (LRUEvict, MaxItemsEvict, TinyLFUEvict). Seeded: the same on every machine.
 * - `evict`: the cost of an eviction: every write is a new key (the bound is full, so every write
 *   evicts), spread over 100 organizations at random, with and without fairness.
 * - `replay`: the noisy read-through workload of `ratios` (get, set on a miss), timed.
 *
 * This suite runs only when named, and writes `bench/results/fairness-node<major>.md`.
 */
import { Cache, LRUEvict, MaxItemsEvict, TinyLFUEvict } from '../src/index.js'
import type { CacheRule } from '../src/index.js'
import type { Case } from './harness.js'
import { measure } from './harness.js'
import type { Scenario, Section, Suite, TargetCheck } from './report.js'
import { ratioSection, runScenarios } from './report.js'

type Order = 'LRUEvict' | 'MaxItemsEvict' | 'TinyLFUEvict'
const ORDERS: readonly Order[] = ['LRUEvict', 'MaxItemsEvict', 'TinyLFUEvict']

function rule(order: Order, maxItems: number, fair: boolean): CacheRule {
  const options = fair ? { maxItems, fairness: 'per-organization' as const } : { maxItems }
  if (order === 'LRUEvict') return new LRUEvict(options)
  if (order === 'MaxItemsEvict') return new MaxItemsEvict(options)
  return new TinyLFUEvict(options)
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const QUIET = 50
const QUIET_KEYS = 40
const NOISY_KEYS = 2_000
const BOUND = 1_000

/** One access of the workload: a tenant index (QUIET = the noisy one) and a key index. */
interface Workload {
  readonly tenants: Int32Array
  readonly keys: Int32Array
  /** Whether an access is counted (a quiet one after the warm-up). */
  readonly counted: Uint8Array
  readonly measured: number
}

/** The quiet stream is the same with and without the noisy tenant (its own PRNG). */
function workload(noisy: boolean, warmup: number, measured: number): Workload {
  const quiet = prng(42)
  const interleave = prng(7)
  const noise = prng(99)
  const cdf: number[] = []
  let total = 0
  for (let i = 1; i <= QUIET_KEYS; i++) cdf.push((total += 1 / i ** 0.99))
  for (let i = 0; i < cdf.length; i++) cdf[i]! /= total
  const tenants: number[] = []
  const keys: number[] = []
  const counted: number[] = []
  for (let i = 0; i < warmup + measured; i++) {
    if (noisy && interleave() < 0.5) {
      tenants.push(QUIET)
      keys.push(Math.floor(noise() * NOISY_KEYS))
      counted.push(0)
    }
    tenants.push(Math.floor(quiet() * QUIET))
    const u = quiet()
    let k = 0
    while (cdf[k]! < u) k++
    keys.push(k)
    counted.push(i >= warmup ? 1 : 0)
  }
  return {
    tenants: Int32Array.from(tenants),
    keys: Int32Array.from(keys),
    counted: Uint8Array.from(counted),
    measured,
  }
}

const scopes = Array.from({ length: QUIET + 1 }, (_, i) => ({
  scope: 'organization' as const,
  orgId: i === QUIET ? 'noisy' : `q${i}`,
}))
const keyNames = Array.from({ length: NOISY_KEYS }, (_, i) => `k${i}`)

/** The quiet tenants' hit ratio of `w` through a cache with `r`. */
function replay(w: Workload, r: CacheRule): number {
  const cache = new Cache({ rules: [r] })
  let hits = 0
  for (let i = 0; i < w.tenants.length; i++) {
    const scope = scopes[w.tenants[i]!]!
    const key = keyNames[w.keys[i]!]!
    if (cache.getSync(key, scope) !== undefined) hits += w.counted[i]!
    else cache.setSync(key, 1, scope)
  }
  void cache.close()
  return hits / w.measured
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(2)}%`
const points = (delta: number) => `${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(2)}`

function ratioSections(): Section[] {
  const alone = workload(false, 100_000, 400_000)
  const noisy = workload(true, 100_000, 400_000)
  const rows: string[][] = []
  const targets: TargetCheck[] = []
  for (const order of ORDERS) {
    const fairAlone = replay(alone, rule(order, BOUND, true))
    const fairNoisy = replay(noisy, rule(order, BOUND, true))
    const unfairAlone = replay(alone, rule(order, BOUND, false))
    const unfairNoisy = replay(noisy, rule(order, BOUND, false))
    rows.push([
      order,
      percent(unfairAlone),
      percent(unfairNoisy),
      points(unfairNoisy - unfairAlone),
      percent(fairAlone),
      percent(fairNoisy),
      points(fairNoisy - fairAlone),
    ])
    targets.push({
      name: `${order} with fairness: quiet hit ratio beside a noisy tenant vs alone`,
      target: 'within 2 points',
      measured: points(fairNoisy - fairAlone),
      met: Math.abs(fairNoisy - fairAlone) <= 0.02,
    })
  }
  return [
    {
      title: `quiet tenants' hit ratio, ${QUIET} quiet organizations and a noisy one, bound ${BOUND}`,
      notes: [
        `quiet: ${QUIET} organizations, ${QUIET_KEYS} keys each, zipf(0.99) within a tenant (${QUIET * QUIET_KEYS} keys in all)`,
        `noisy: as many reads as all the quiet ones together, uniformly over ${NOISY_KEYS} keys`,
        'read-through (get, set on a miss) through the Cache facade on the in-memory storage; 100 000 quiet accesses of warm-up, 400 000 counted',
        '"fair": fairness: per-organization on the same bound',
      ],
      headers: [
        'bound',
        'unfair, alone',
        'unfair, beside noisy',
        'change (points)',
        'fair, alone',
        'fair, beside noisy',
        'change (points)',
      ],
      rows,
      targets,
    },
  ]
}

/** More and longer rounds than the default: the ratios compare two cases on a loaded machine. */
const LOADED = { rounds: 31, targetRoundMs: 120 }

const TENANTS = 100
const EVICT_BOUND = 10_000

/** A case whose every write is a new key in a random organization: the bound is full, each write evicts. */
function evictCase(name: string, r: CacheRule): Case {
  const cache = new Cache({ rules: [r] })
  const orgs = Array.from({ length: TENANTS }, (_, i) => ({ scope: 'organization' as const, orgId: `o${i}` }))
  const random = prng(5)
  const picks = Int32Array.from({ length: 1 << 16 }, () => Math.floor(random() * TENANTS))
  const names = Array.from({ length: 1 << 16 }, (_, i) => `n${i}`)
  let at = 0
  let round = 0
  return {
    name,
    setup: () => {
      for (let i = 0; i < EVICT_BOUND; i++) cache.setSync(`fill${i}`, i, orgs[i % TENANTS]!)
    },
    run: (ops) => {
      for (let i = 0; i < ops; i++) {
        const j = at++ & 0xffff
        if (j === 0) round++
        cache.setSync(`${names[j]!}:${round}`, i, orgs[picks[j]!]!)
      }
      return at
    },
  }
}

function replayCase(name: string, w: Workload, r: CacheRule): Case {
  const cache = new Cache({ rules: [r] })
  let at = 0
  return {
    name,
    run: (ops) => {
      let hits = 0
      for (let i = 0; i < ops; i++) {
        const j = at++ % w.tenants.length
        const scope = scopes[w.tenants[j]!]!
        const key = keyNames[w.keys[j]!]!
        if (cache.getSync(key, scope) !== undefined) hits++
        else cache.setSync(key, 1, scope)
      }
      return hits
    },
  }
}

async function evictSections(): Promise<Section[]> {
  const sections: Section[] = []
  for (const order of ['LRUEvict', 'TinyLFUEvict'] as const) {
    const fairName = `${order} fair setSync (evicts)`
    const plainName = `${order} setSync (evicts)`
    const m = await measure(
      [
        evictCase(fairName, rule(order, EVICT_BOUND, true)),
        evictCase(plainName, rule(order, EVICT_BOUND, false)),
      ],
      LOADED,
    )
    sections.push(
      ratioSection(
        `eviction throughput, ${order}, bound ${EVICT_BOUND}, ${TENANTS} organizations`,
        m,
        fairName,
        [
          'every write is a new key in a random organization, so every write evicts one entry; "ours / this": with fairness against without',
        ],
      ),
    )
  }
  return sections
}

async function replaySections(): Promise<Section[]> {
  const w = workload(true, 0, 200_000)
  const m = await measure(
    [
      replayCase('LRUEvict fair replay', w, rule('LRUEvict', BOUND, true)),
      replayCase('LRUEvict replay', w, rule('LRUEvict', BOUND, false)),
    ],
    LOADED,
  )
  return [
    ratioSection(
      'noisy + quiet read-through replay, LRUEvict, bound 1 000 (get, set on a miss)',
      m,
      'LRUEvict fair replay',
      [
        'the workload of the ratios table; fairness also misses less for the quiet tenants, so it writes less',
      ],
    ),
  ]
}

const scenarios: Scenario[] = [
  { name: 'ratios', run: ratioSections },
  { name: 'evict', run: evictSections },
  { name: 'replay', run: replaySections },
]

/** The suite: quiet tenants' hit ratios with and without fairness, and the cost of a fair eviction. */
export const suite: Suite = {
  name: 'fairness',
  description: 'fair share on a cache-wide bound: quiet tenants beside a noisy one; cost of a fair eviction',
  scenarios: scenarios.map((s) => s.name),
  run: (context) => runScenarios(scenarios, context),
}
