import { ConfigurationError } from '../errors.js'
import { escapedMemoNamespace, unescapeMemoNamespace } from '../keys/entry-key.js'
import type { ScopePath } from '../storage/contract.js'
import { escapeComponent } from '../storage/key-encoding.js'
import type { BucketCounts, CounterIndex } from './top-k.js'
import { TopK } from './top-k.js'

/** Options of `new Cache({ stats: { ... } })`, which turns the per-scope and per-namespace breakdown on. */
export interface StatsTrackingOptions<Level extends string = string> {
  /** Buckets kept per scope level and for namespaces; the rest add up in `other`. Default 100. */
  readonly topN?: number
  /**
   * The scope levels to break down. Default: the top level only (e.g. `['organization']`): deeper
   * levels' ids (users, sessions) would become metric label values, so they are opt-in, e.g.
   * `levels: ['organization', 'user']`. `[]`: no level (namespaces only).
   */
  readonly levels?: readonly Level[]
  /** Whether to break memoized calls down by namespace. Default `true`. */
  readonly namespaces?: boolean
}

/** One tracked scope instance (one tenant, one user, ...) in a breakdown. */
export interface ScopeBucket extends BucketCounts {
  /** The instance's scope path, from the top level down to the broken-down level. */
  readonly scope: ScopePath
  /** The ids of `scope` joined by `/`, each escaped as in storage keys; the metric label value. */
  readonly label: string
}

/** One tracked memoized function in a breakdown. */
export interface NamespaceBucket extends BucketCounts {
  /** The memoized function's namespace. */
  readonly namespace: string
  /** The namespace escaped as in storage keys; the metric label value. */
  readonly label: string
}

/** The most active buckets of one dimension, and everything else added up. */
export interface Breakdown<B> {
  /** At most `topN` buckets, most active first. */
  readonly top: readonly B[]
  /** Counts of everything not in `top` (buckets never tracked, or replaced by more active ones). */
  readonly other: BucketCounts
}

/** What `cache.stats({ breakdown: true })` adds to the stats. */
export interface StatsBreakdown<Level extends string = string> {
  /** How many buckets are tracked per dimension (the `stats.topN` option). */
  readonly topN: number
  /**
   * Per tracked scope level: operations on entries at or under each instance of that level. Entries not
   * under the level are not counted there; a scope eviction counts toward the evicted scope and its
   * ancestors only (which descendants lost entries is not known).
   */
  readonly byScope: { readonly [L in Level]?: Breakdown<ScopeBucket> }
  /** Per memoized function (direct entries are not counted here); absent when turned off. */
  readonly byNamespace?: Breakdown<NamespaceBucket>
}

/** Label value of the bucket that adds up everything outside the top N (no escaped id can equal it). */
export const OTHER_LABEL = '{other}'

const DEFAULT_TOP_N = 100
const MAX_TOP_N = 100_000

/**
 * Per-scope-level and per-namespace counters with bounded memory: one {@link TopK} per tracked level and
 * one for namespaces, so memory is O(topN x dimensions) whatever the number of tenants.
 */
export class ScopeStatsTracker {
  readonly topN: number
  readonly #byLevel = new Map<string, TopK<ScopePath>>()
  readonly #namespaces: TopK<undefined> | undefined

  /** `allLevels`: the cache's level names (without `global`). */
  constructor(options: StatsTrackingOptions, allLevels: readonly string[]) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('the stats option must be an object such as { topN: 100 }')
    }
    const topN = options.topN ?? DEFAULT_TOP_N
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) {
      throw new ConfigurationError(
        `stats.topN must be an integer from 1 to ${MAX_TOP_N}, got ${String(topN)}`,
      )
    }
    this.topN = topN
    const levels: unknown = options.levels ?? allLevels.slice(0, 1)
    if (!Array.isArray(levels)) {
      throw new ConfigurationError(
        `stats.levels must be an array of scope level names such as ['organization']`,
      )
    }
    for (const level of levels as unknown[]) {
      if (typeof level !== 'string' || !allLevels.includes(level)) {
        throw new ConfigurationError(
          `stats.levels: ${JSON.stringify(level)} is not a scope level of this cache (levels: ${allLevels.join(', ') || 'none'})`,
        )
      }
      this.#byLevel.set(level, new TopK(topN))
    }
    this.#namespaces = options.namespaces === false ? undefined : new TopK(topN)
  }

  /**
   * Adds `n` to `counter` for the entry `key` under `scope`: once per tracked level on the path, and once
   * for its namespace when `key` is a memoized entry's storage key. `key` undefined: a whole scope.
   */
  record(counter: CounterIndex, scope: ScopePath, key: string | undefined, n: number): void {
    let label = ''
    for (let i = 0; i < scope.length; i++) {
      const segment = scope[i]!
      const id = escapeComponent(segment.id)
      label = i === 0 ? id : `${label}/${id}`
      this.#byLevel.get(segment.level)?.add(label, counter, n, scope)
    }
    if (this.#namespaces !== undefined && key !== undefined) {
      const namespace = escapedMemoNamespace(key)
      if (namespace !== undefined) this.#namespaces.add(namespace, counter, n, undefined)
    }
  }

  /** The current breakdown. */
  report(): StatsBreakdown {
    const byScope: Record<string, Breakdown<ScopeBucket>> = {}
    for (const [level, top] of this.#byLevel) {
      const { top: buckets, other } = top.report()
      byScope[level] = {
        top: buckets.map(({ detail, label, hits, misses, sets, evictions }) => ({
          scope: detail.slice(0, detail.findIndex((s) => s.level === level) + 1),
          label,
          hits,
          misses,
          sets,
          evictions,
        })),
        other,
      }
    }
    if (this.#namespaces === undefined) return { topN: this.topN, byScope }
    const { top, other } = this.#namespaces.report()
    const byNamespace = {
      top: top.map(({ label, hits, misses, sets, evictions }) => {
        const namespace = unescapeMemoNamespace(label)
        return { namespace, label: escapeComponent(namespace), hits, misses, sets, evictions }
      }),
      other,
    }
    return { topN: this.topN, byScope, byNamespace }
  }
}
