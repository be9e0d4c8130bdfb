import type { BoundPolicy } from '../storage/contract.js'
import type { CacheRule } from './contract.js'
import type { BoundOptions } from './bounds.js'
import { checkBoundOptions } from './bounds.js'

/**
 * Options of {@link TinyLFUEvict}: the bound (`maxItems`) and, optionally, the scope level bounded per
 * instance (`per`), as for `LRUEvict`. A byte budget (`maxBytes`) will join them once the storages
 * account entry sizes.
 */
export type TinyLFUEvictOptions = BoundOptions

/**
 * Keeps at most `maxItems` entries (per instance of the `per` level, if given), choosing what to keep
 * by recent access frequency rather than by recency alone (W-TinyLFU, as in Caffeine): new entries
 * enter a small LRU window; to stay, an entry leaving the window must have been used more often,
 * recently, than the least valuable entry of the main space. A scan of keys read once therefore does not
 * flush the entries in use, and a loop a little larger than the bound keeps most of its keys (plain LRU
 * keeps none). The window's size adapts to the workload (hill climbing on the hit ratio), so
 * recency-skewed workloads lose nothing against LRU. Measured hit ratios: `bench/results/hit-ratio-*.md`.
 *
 * - An entry just written is always kept (it is in the window), so a write is readable right after.
 * - Frequencies are estimated by a count-min sketch of 4-bit counters behind a doorkeeper (keys seen
 *   once do not reach the counters), halved every `3 x maxItems` counted accesses; about 8 bytes per
 *   entry of the bound, allocated once a group is half full.
 * - Evictions are reported with the reason `'maxItems'`.
 * - In-process only: the in-memory storage, and a local tier with `local: { policy: 'tinylfu' }`.
 *   A cache on a shared storage (Redis, MongoDB) refuses this rule with a `ConfigurationError` at
 *   construction: its bound must hold across processes, which their LRU and insertion orders do.
 * - At most one `TinyLFUEvict` per cache; it combines with `LRUEvict` and `MaxItemsEvict` (every bound
 *   holds).
 */
export class TinyLFUEvict implements CacheRule {
  /** `'TinyLFUEvict'`, for error messages. */
  readonly name = 'TinyLFUEvict'
  /** The bound the in-memory storage (or the local tier) enforces: order `'tinylfu'`. */
  readonly bound: BoundPolicy

  constructor(options: TinyLFUEvictOptions) {
    const { maxItems, per, fairness } = checkBoundOptions('TinyLFUEvict', options)
    this.bound = {
      order: 'tinylfu',
      maxItems,
      per,
      reason: 'maxItems',
      ...(fairness === undefined ? {} : { fairness }),
    }
  }
}
