import type { BoundPolicy } from '../storage/contract.js'
import type { CacheRule } from './contract.js'
import type { BoundOptions } from './bounds.js'
import { boundPolicy } from './bounds.js'

/**
 * Keeps at most `maxItems` entries and/or `maxBytes` bytes (per instance of the `per` level, if given;
 * see `docs/guide/byte-budgets.md` for sizes), evicting the least
 * recently used entry first; reads and writes both count as use. Evictions are reported as `'lru'`.
 */
export class LRUEvict implements CacheRule {
  readonly name = 'LRUEvict'
  readonly bound: BoundPolicy

  constructor(options: BoundOptions) {
    this.bound = boundPolicy('LRUEvict', 'lru', 'lru', options)
  }
}
