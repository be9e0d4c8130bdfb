import type { BoundPolicy } from '../storage/contract.js'
import type { CacheRule } from './contract.js'
import type { BoundOptions } from './bounds.js'
import { checkBoundOptions } from './bounds.js'

/**
 * Keeps at most `maxItems` entries (per instance of the `per` level, if given), evicting the
 * oldest-inserted entry first. Reads do not matter; overwriting an entry keeps its place. Evictions are
 * reported as `'maxItems'`.
 */
export class MaxItemsEvict implements CacheRule {
  readonly name = 'MaxItemsEvict'
  readonly bound: BoundPolicy

  constructor(options: BoundOptions) {
    const { maxItems, per, fairness } = checkBoundOptions('MaxItemsEvict', options)
    this.bound = {
      order: 'insertion',
      maxItems,
      per,
      reason: 'maxItems',
      ...(fairness === undefined ? {} : { fairness }),
    }
  }
}
