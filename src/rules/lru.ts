import type { BoundPolicy } from '../storage/contract.js'
import type { CacheRule } from './contract.js'
import type { BoundOptions } from './bounds.js'
import { checkBoundOptions } from './bounds.js'

/**
 * Keeps at most `maxItems` entries (per instance of the `per` level, if given), evicting the least
 * recently used entry first; reads and writes both count as use. Evictions are reported as `'lru'`.
 */
export class LRUEvict implements CacheRule {
  readonly name = 'LRUEvict'
  readonly bound: BoundPolicy

  constructor(options: BoundOptions) {
    const { maxItems, per, fairness } = checkBoundOptions('LRUEvict', options)
    this.bound = {
      order: 'lru',
      maxItems,
      per,
      reason: 'lru',
      ...(fairness === undefined ? {} : { fairness }),
    }
  }
}
