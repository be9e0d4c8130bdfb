import { EntryTooLargeError } from '../errors.js'
import type { BoundPolicy, ScopePath } from './contract.js'

/**
 * The write-side check of byte budgets, shared by every provider: an entry alone larger than a
 * `maxBytes` that covers it could never be kept, so the write is refused before anything changes.
 */

/** Names a byte budget for messages, e.g. `LRUEvict({ maxBytes, per: 'user' })`. */
export function describeBudget(bound: BoundPolicy): string {
  const rule =
    bound.order === 'lru' ? 'LRUEvict' : bound.order === 'insertion' ? 'MaxItemsEvict' : 'TinyLFUEvict'
  return bound.per === undefined ? `${rule}({ maxBytes })` : `${rule}({ maxBytes, per: '${bound.per}' })`
}

/** Whether `bound` covers entries of `scope` (cache-wide, or `scope` is under its `per` level). */
export function covers(bound: BoundPolicy, scope: ScopePath): boolean {
  const per = bound.per
  if (per === undefined) return true
  for (let i = 0; i < scope.length; i++) if (scope[i]!.level === per) return true
  return false
}

/** Throws an {@link EntryTooLargeError} when an entry of `size` bytes in `scope` exceeds a budget of `bounds`. */
export function checkEntryFits(bounds: readonly BoundPolicy[], scope: ScopePath, size: number): void {
  for (const bound of bounds) {
    if (bound.maxBytes !== undefined && size > bound.maxBytes && covers(bound, scope)) {
      throw new EntryTooLargeError(size, bound.maxBytes, describeBudget(bound))
    }
  }
}
