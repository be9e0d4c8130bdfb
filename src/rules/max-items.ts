import type { BoundPolicy } from '../storage/contract.js'
import type { CacheRule } from './contract.js'
import type { BoundOptions } from './bounds.js'
import { boundPolicy } from './bounds.js'

/**
 * Keeps at most `maxItems` entries and/or `maxBytes` bytes (per instance of the `per` level, if given;
 * see `docs/guide/byte-budgets.md` for sizes), evicting the
 * oldest-inserted entry first. Reads do not matter; overwriting an entry keeps its place. Evictions are
 * reported as `'maxItems'`.
 */
export class MaxItemsEvict implements CacheRule {
  readonly name = 'MaxItemsEvict'
  readonly bound: BoundPolicy

  constructor(options: BoundOptions) {
    this.bound = boundPolicy('MaxItemsEvict', 'insertion', 'maxItems', options)
  }
}
