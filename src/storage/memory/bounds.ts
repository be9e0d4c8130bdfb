import type { BoundPolicy } from '../contract.js'
import { FairShare } from './fair-share.js'
import { append, nextOf, unlink } from './links.js'
import type { AnyGroup, Entry, Group, ScopeNode } from './scope-tree.js'
import { entryHash } from './scope-tree.js'
import { TinyLfuGroup } from './tinylfu.js'

/** Why a bound removes an entry (a policy's `reason`). */
type Reason = BoundPolicy['reason']

/** What the bound groups need of their store: removing an entry, reclaiming every expired one. */
export interface BoundsHost {
  remove(entry: Entry, reason: Reason): void
  reclaimAllExpired(): void
}

/**
 * The memory store's bounds: each bound policy owns one intrusive doubly linked list per group (the
 * whole store, or one instance of its `per` level). Policy 0 links through `prev`/`next` on the entry;
 * further policies use the entry's `more` array. Lists are ordered oldest first: LRU moves an entry to
 * the tail on every read and write, insertion order only on first insertion. A `'tinylfu'` policy (at
 * most one per store) keeps a {@link TinyLfuGroup} per group instead, linked through the entry's `lfu`
 * node.
 *
 * Fairness: a cache-wide policy with `fairness` keeps one group per tenant (instance of its level, as
 * `per` does; entries above that level share the root group) and a {@link FairShare} of the groups;
 * its bound holds over their total, and the victim comes from the largest group, in its own order.
 *
 * Bytes: every group's `bytes` is the sum over its linked entries' `bytes`; a policy with `maxBytes`
 * evicts while its group's sum exceeds it.
 */
export class BoundGroups {
  policies: readonly BoundPolicy[] = []
  /** Indexes of the `'lru'` policies (touched on every read). */
  lruIndexes: number[] = []
  /** Index of the `'tinylfu'` policy, -1 if none. */
  lfuIndex = -1
  /** The common case: one cache-wide LRU bound, policy 0 (the store touches it inline on a hit). */
  rootGroup0Lru: Group | undefined
  /** Each policy's `maxBytes` (Infinity: none); empty when no policy has one (nothing is measured). */
  maxBytes: number[] = []
  #rootGroups: (AnyGroup | undefined)[] = []
  /** The tenants of each policy with `fairness`, by policy index. */
  #fair: (FairShare<AnyGroup> | undefined)[] = []

  constructor(readonly host: BoundsHost) {}

  /** Applies the cache's bounds; the store must be empty. */
  configure(policies: readonly BoundPolicy[]): void {
    this.policies = policies
    this.lruIndexes = policies.flatMap((p, i) => (p.order === 'lru' ? [i] : []))
    this.lfuIndex = policies.findIndex((p) => p.order === 'tinylfu')
    const sized = policies.some((p) => p.maxBytes !== undefined)
    this.maxBytes = sized ? policies.map((p) => p.maxBytes ?? Number.POSITIVE_INFINITY) : []
    this.reset()
  }

  /** Empty cache-wide groups (the store was cleared; per-level groups left with the old tree). */
  reset(): void {
    this.#rootGroups = this.policies.map((p) => (p.per === undefined ? newGroup(p) : undefined))
    this.#fair = this.policies.map((p) => (p.fairness === undefined ? undefined : new FairShare()))
    const only =
      this.policies.length === 1 &&
      this.policies[0]!.order === 'lru' &&
      this.policies[0]!.fairness === undefined
    this.rootGroup0Lru = only ? (this.#rootGroups[0] as Group) : undefined
  }

  /** The group of policy `policy` that `node`'s entries fall under (created if `create`), if any. */
  groupOf(node: ScopeNode, policy: number, create: boolean): AnyGroup | undefined {
    const { per, fairness } = this.policies[policy]!
    const level = per ?? fairness
    if (level === undefined) return this.#rootGroups[policy]
    for (let n: ScopeNode | null = node; n !== null; n = n.parent) {
      if (n.level !== level) continue
      const groups = (n.groups ??= [])
      let group = groups[policy]
      if (group === undefined && create) groups[policy] = group = newGroup(this.policies[policy]!)
      return group
    }
    // Under a fair policy, the entries above its level form one more tenant: the root group.
    return fairness === undefined ? undefined : this.#rootGroups[policy]
  }

  /**
   * Links a new entry into every policy it falls under, then evicts until each bound holds. Expired
   * entries not reclaimed yet never take a bound's place: before a bound evicts a live entry, every
   * expired entry is reclaimed (each once, so O(log n) amortised per expired entry).
   */
  admit(entry: Entry, node: ScopeNode): void {
    const policies = this.policies
    if (policies.length > 1) entry.more = new Array<Entry | null>(2 * (policies.length - 1)).fill(null)
    let reclaimed = false
    for (let i = 0; i < policies.length; i++) {
      const group = this.groupOf(node, i, true)
      if (group === undefined) continue
      if (group instanceof TinyLfuGroup) entry.lfu = group.add(entry, entryHash(node, entry.key))
      else append(group, entry, i)
      group.bytes += entry.bytes
      const policy = policies[i]!
      const fair = this.#fair[i]
      if (fair !== undefined) {
        reclaimed = this.#admitFair(fair, group, policy, reclaimed)
        continue
      }
      const maxBytes = this.maxBytes[i] ?? Number.POSITIVE_INFINITY
      if ((group.size > policy.maxItems || group.bytes > maxBytes) && !reclaimed) {
        reclaimed = true
        this.host.reclaimAllExpired()
      }
      while (group.size > policy.maxItems || group.bytes > maxBytes) {
        this.host.remove(group instanceof TinyLfuGroup ? group.victim() : group.head!, policy.reason)
      }
    }
  }

  /**
   * Counts a new entry of `group` for a fair policy, then evicts, while the bound is exceeded, from the
   * tenant holding the most entries (see {@link FairShare}). Returns whether expired entries were
   * reclaimed (done once per admission, before the first live entry is evicted).
   */
  #admitFair(fair: FairShare<AnyGroup>, group: AnyGroup, policy: BoundPolicy, reclaimed: boolean): boolean {
    fair.added(group)
    if (fair.total > policy.maxItems && !reclaimed) {
      reclaimed = true
      this.host.reclaimAllExpired()
    }
    while (fair.total > policy.maxItems) {
      const largest = fair.largest()
      this.host.remove(largest instanceof TinyLfuGroup ? largest.victim() : largest.head!, policy.reason)
    }
    return reclaimed
  }

  /** Unlinks a leaving entry (of `node`) from every group it is in. */
  unlink(entry: Entry, node: ScopeNode): void {
    for (let i = 0; i < this.policies.length; i++) {
      if (i === this.lfuIndex) {
        const lfu = entry.lfu
        if (lfu !== null) {
          lfu.group.remove(lfu)
          lfu.group.bytes -= entry.bytes
          this.#fair[i]?.removed(lfu.group)
        }
        entry.lfu = null
        continue
      }
      const group = this.groupOf(node, i, false) as Group | undefined
      if (group !== undefined) {
        unlink(group, entry, i)
        group.bytes -= entry.bytes
        this.#fair[i]?.removed(group)
      }
    }
  }

  /** Moves `entry` to the tail of every LRU list it is in (the general case of the store's touch). */
  touch(entry: Entry): void {
    for (const i of this.lruIndexes) {
      const group = this.groupOf(entry.node!, i, false) as Group | undefined
      if (group !== undefined && group.tail !== entry) {
        unlink(group, entry, i)
        append(group, entry, i)
      }
    }
  }

  /**
   * An overwrite changed an entry's size by `delta` (`entry.bytes` already updated): updates every
   * group, then evicts other entries while a byte budget is exceeded (never the entry just written: a
   * TinyLFU node is re-added at the window's tail, which its victim choice never picks; in a list the
   * next entry goes instead).
   */
  resized(entry: Entry, node: ScopeNode, delta: number): void {
    const groups: (AnyGroup | undefined)[] = []
    for (let i = 0; i < this.policies.length; i++) {
      const group = this.groupOf(node, i, false)
      groups.push(group)
      if (group !== undefined) group.bytes += delta
    }
    if (delta <= 0) return
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]
      if (group === undefined || !(group.bytes > this.maxBytes[i]!)) continue
      this.host.reclaimAllExpired()
      if (group instanceof TinyLfuGroup && entry.lfu !== null && group.bytes > this.maxBytes[i]!) {
        group.remove(entry.lfu)
        entry.lfu = group.add(entry, entry.lfu.hash)
      }
      while (group.bytes > this.maxBytes[i]!) {
        const victim =
          group instanceof TinyLfuGroup
            ? group.victim()
            : group.head === entry
              ? nextOf(entry, i)!
              : group.head!
        this.host.remove(victim, this.policies[i]!.reason)
      }
    }
  }
}

/** An empty group for `policy`. */
function newGroup(policy: BoundPolicy): AnyGroup {
  if (policy.order !== 'tinylfu') return { head: null, tail: null, size: 0, bytes: 0 }
  // A bytes-only bound sizes the window and sketch for maxBytes / 256 entries (see TinyLFUEvict).
  const sizing = Number.isFinite(policy.maxItems)
    ? policy.maxItems
    : Math.max(64, Math.floor(policy.maxBytes! / 256))
  return new TinyLfuGroup<Entry>(sizing)
}
