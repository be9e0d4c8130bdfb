import type { BoundPolicy, ByteUsage, EntryRef, ScopePath } from '../contract.js'
import { checkEntryFits } from '../byte-budget.js'
import type { ScopeNode } from './scope-tree.js'
import { topOf } from './scope-tree.js'
import { measure } from './size.js'

/**
 * The memory store's byte accounting, kept only when a policy has `maxBytes`: every write measures its
 * value once (`sizeOf` or `estimateSize`) before changing anything, refuses it with an
 * `EntryTooLargeError` if it alone exceeds a budget that covers it, and keeps `entry.bytes`; each
 * top-level node's `bytes` is the sum over its subtree (the root's: the global scope's entries), and
 * {@link ByteAccounting.total} the sum over all entries. Without a byte budget nothing is measured (all
 * stay 0). The groups' sums are kept by `bounds.ts`.
 */
export class ByteAccounting {
  /** Whether writes are measured (a policy has a byte budget). */
  measures = false
  /** Bytes of every entry of the store. */
  total = 0
  #policies: readonly BoundPolicy[] = []
  #sizeOf: ((value: unknown) => number) | undefined

  /** Applies the cache's bounds; the store must be empty. */
  configure(policies: readonly BoundPolicy[]): void {
    this.#policies = policies
    this.measures = policies.some((p) => p.maxBytes !== undefined)
    this.#sizeOf = policies.find((p) => p.sizeOf !== undefined)?.sizeOf
    this.total = 0
  }

  /** The size of `value` for `ref`, refused if it alone exceeds a budget covering `ref`. */
  measure(ref: EntryRef, value: unknown): number {
    const bytes = measure(value, this.#sizeOf)
    checkEntryFits(this.#policies, ref.scope, bytes)
    return bytes
  }

  /** Adds `bytes` (negative: removes) for an entry of `node` to the totals. */
  add(node: ScopeNode, bytes: number): void {
    this.total += bytes
    topOf(node).bytes += bytes
  }

  /** Bytes in total and per top-level scope instance (the root: global-scope entries), largest first. */
  usage(root: ScopeNode, topN: number): ByteUsage {
    const top: { scope: ScopePath; bytes: number }[] = []
    if (root.bytes !== 0) top.push({ scope: [], bytes: root.bytes })
    for (const byId of root.children?.values() ?? []) {
      for (const child of byId.values()) {
        if (child.bytes !== 0) top.push({ scope: [{ level: child.level, id: child.id }], bytes: child.bytes })
      }
    }
    top.sort((a, b) => b.bytes - a.bytes)
    return { total: this.total, top: top.slice(0, topN) }
  }
}
