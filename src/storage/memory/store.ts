import type {
  BoundPolicy,
  EntryRef,
  Miss,
  ScopePath,
  ScopeSegment,
  StorageContext,
  StoredEntry,
  SyncStorageOperations,
  WriteOptions,
} from '../contract.js'
import { MISS } from '../contract.js'
import { ExpiryHeap } from './expiry-heap.js'
import { FairShare } from './fair-share.js'
import { TagIndex } from './tag-index.js'
import { hashString } from './frequency-sketch.js'
import type { LfuNode } from './tinylfu.js'
import { TinyLfuGroup } from './tinylfu.js'

/**
 * The in-memory data structure behind `InMemory`.
 *
 * Layout: a tree of scope nodes (the root is the global scope) whose children are indexed by level then
 * id; each node holds its own entries in a `Map` keyed by the entry key. The tree is the scope index
 * itself, so evicting a scope detaches one subtree: O(entries in that scope), never O(all entries).
 *
 * Bounds: each bound policy owns one intrusive doubly linked list per group (the whole store, or one
 * instance of its `per` level). Policy 0 links through `prev`/`next` on the entry; further policies use
 * the entry's `more` array. Lists are ordered oldest first: LRU moves an entry to the tail on every
 * read and write, insertion order only on first insertion. A `'tinylfu'` policy (at most one per store)
 * keeps a {@link TinyLfuGroup} per group instead, linked through the entry's `lfu` node.
 *
 * Expiry: `expiresAt` (epoch ms, 0 = never) is checked on every read; a min-heap of expiry times lets
 * writes, `size()` and the optional sweeper reclaim expired entries without scanning.
 *
 * Fairness: a cache-wide policy with `fairness` keeps one group per tenant (instance of its level, as
 * `per` does; entries above that level share the root group) and a {@link FairShare} of the groups;
 * its bound holds over their total, and the victim comes from the largest group, in its own order.
 *
 * Tags: a {@link TagIndex} (tag -> entries), kept by writes and by every removal; reads never touch it.
 */

interface Group {
  head: Entry | null
  tail: Entry | null
  size: number
}

class ScopeNode {
  children: Map<string, Map<string, ScopeNode>> | null = null
  entries: Map<string, Entry> | null = null
  /** Groups of the policies bounded per this node's level, by policy index. */
  groups: (AnyGroup | undefined)[] | null = null
  /** Hash of the scope path for the TinyLFU sketch; 0 until computed. */
  lfuHash = 0

  constructor(
    readonly parent: ScopeNode | null,
    readonly level: string,
    readonly id: string,
  ) {}
}

class Entry {
  prev: Entry | null = null
  next: Entry | null = null
  /** Links of policies 1..n as [prev1, next1, prev2, next2, ...]; null while only one policy exists. */
  more: (Entry | null)[] | null = null
  /** The entry's tags; null for none (the common case: an untagged entry costs one field). */
  tags: readonly string[] | null = null
  /** The entry's place in the `'tinylfu'` policy's group, if it falls under one. */
  lfu: LfuNode<Entry> | null = null

  constructor(
    readonly key: string,
    public value: unknown,
    public expiresAt: number,
    /** The node holding the entry; null once removed (this is how stale heap items are recognised). */
    public node: ScopeNode | null,
  ) {}
}

/** A group of a policy: a linked list (lru, insertion) or a TinyLFU group. */
type AnyGroup = Group | TinyLfuGroup<Entry>

const REPORT_NOTHING: StorageContext['onEvicted'] = () => undefined
/** Expired entries reclaimed per write, so that writes stay O(log n) amortised. */
const RECLAIM_PER_WRITE = 4

/** Synchronous in-memory store; see the module comment for its layout and invariants. */
export class MemoryStore implements SyncStorageOperations {
  #root = new ScopeNode(null, '', '')
  #count = 0
  #policies: readonly BoundPolicy[] = []
  #lruIndexes: number[] = []
  /** Index of the `'tinylfu'` policy, -1 if none. */
  #lfuIndex = -1
  /** The common case: one cache-wide LRU bound, policy 0, touched inline on the hot path. */
  #rootGroup0Lru: Group | undefined
  #rootGroups: (AnyGroup | undefined)[] = []
  /** The tenants of each policy with `fairness`, by policy index. */
  #fair: (FairShare<AnyGroup> | undefined)[] = []
  #heap = new ExpiryHeap<Entry>()
  readonly #tags = new TagIndex<Entry>()
  #onEvicted: StorageContext['onEvicted'] = REPORT_NOTHING
  #context: StorageContext | undefined

  /** Applies the cache's bounds and eviction listener; the store must be empty. */
  configure(context: StorageContext): void {
    this.#policies = context.bounds
    this.#lruIndexes = context.bounds.flatMap((p, i) => (p.order === 'lru' ? [i] : []))
    this.#lfuIndex = context.bounds.findIndex((p) => p.order === 'tinylfu')
    this.#resetRootGroups()
    this.#onEvicted = context.onEvicted
    this.#context = context
  }

  get(ref: EntryRef): unknown {
    const entry = this.#read(ref)
    return entry === undefined ? MISS : entry.value
  }

  /** `get` with the entry's expiry (`undefined`: none). */
  getWithExpiry(ref: EntryRef): StoredEntry | Miss {
    const entry = this.#read(ref)
    if (entry === undefined) return MISS
    return { value: entry.value, expiresAt: entry.expiresAt === 0 ? undefined : entry.expiresAt }
  }

  /**
   * The live entry of `ref`, used: the one read path of `get` and `getWithExpiry`, so that every read
   * counts for the LRU and TinyLFU policies alike. An expired entry met here is removed.
   */
  #read(ref: EntryRef): Entry | undefined {
    const entry = this.#find(ref.scope)?.entries?.get(ref.key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
      this.#remove(entry, 'expired')
      return undefined
    }
    if (this.#lruIndexes.length !== 0) this.#touch(entry)
    const lfu = entry.lfu
    if (lfu !== null) lfu.group.accessed(lfu)
    return entry
  }

  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): void {
    const expiresAt = ttlMs === undefined ? 0 : Date.now() + ttlMs
    const node = this.#findOrCreate(ref.scope)
    const entries = (node.entries ??= new Map())
    const existing = entries.get(ref.key)
    const tags = options?.tags
    if (existing !== undefined) {
      existing.value = value
      existing.expiresAt = expiresAt
      if (expiresAt !== 0) this.#heap.push(expiresAt, existing)
      if (existing.tags !== null || tags !== undefined) this.#retag(existing, tags)
      if (this.#lruIndexes.length !== 0) this.#touch(existing)
      if (existing.lfu !== null) existing.lfu.group.written(existing.lfu)
    } else {
      const entry = new Entry(ref.key, value, expiresAt, node)
      entries.set(ref.key, entry)
      this.#count++
      if (expiresAt !== 0) this.#heap.push(expiresAt, entry)
      if (tags !== undefined) this.#retag(entry, tags)
      if (this.#policies.length !== 0) this.#admit(entry, node)
    }
    this.reclaimExpired(RECLAIM_PER_WRITE)
  }

  /** The live entries stored directly in `path` (see `StorageProvider.list`). */
  list(path: ScopePath): Array<readonly [string, unknown]> {
    const entries = this.#find(path)?.entries
    const listed: Array<readonly [string, unknown]> = []
    if (entries === null || entries === undefined) return listed
    const now = Date.now()
    for (const entry of entries.values()) {
      if (entry.expiresAt === 0 || entry.expiresAt > now) listed.push([entry.key, entry.value])
    }
    return listed
  }

  /**
   * Removes the entries at or under `path` carrying any of `tags`; how many live ones (expired ones
   * met on the way are reported as `'expired'`). O(entries carrying the tags × scope depth).
   */
  invalidateTags(tags: readonly string[], path: ScopePath): number {
    const target = path.length === 0 ? this.#root : this.#find(path)
    if (target === undefined) return 0
    const now = Date.now()
    let removed = 0
    for (const entry of this.#tags.carrying(tags)) {
      if (entry.node === null || !isUnder(entry.node, target)) continue
      const expired = entry.expiresAt !== 0 && entry.expiresAt <= now
      this.#remove(entry, expired ? 'expired' : undefined)
      if (!expired) removed++
    }
    return removed
  }

  /** Number of tags that hold at least one entry (diagnostics: removals leave no index behind). */
  get tagCount(): number {
    return this.#tags.size
  }

  #retag(entry: Entry, tags: readonly string[] | undefined): void {
    this.#tags.retag(entry, tags === undefined || tags.length === 0 ? null : tags)
  }

  delete(ref: EntryRef): boolean {
    const entry = this.#find(ref.scope)?.entries?.get(ref.key)
    if (entry === undefined) return false
    const expired = entry.expiresAt !== 0 && entry.expiresAt <= Date.now()
    this.#remove(entry, expired ? 'expired' : undefined)
    return !expired
  }

  evictScope(path: ScopePath): number {
    if (path.length === 0) return this.#clear()
    const node = this.#find(path)
    if (node === undefined) return 0
    let removed = 0
    const stack = [node]
    while (stack.length !== 0) {
      const current = stack.pop()!
      if (current.entries !== null) {
        for (const entry of current.entries.values()) {
          this.#unlink(entry, current)
          if (entry.tags !== null) this.#tags.remove(entry)
          entry.node = null
          removed++
        }
      }
      if (current.children !== null)
        for (const byId of current.children.values()) stack.push(...byId.values())
    }
    this.#count -= removed
    this.#detach(node)
    return removed
  }

  size(): number {
    this.reclaimExpired(Number.POSITIVE_INFINITY)
    return this.#count
  }

  /** Items in the expiry heap, stale ones included (diagnostics: stays O(entries)). */
  get pendingExpiries(): number {
    return this.#heap.length
  }

  /** Removes up to `limit` expired entries, oldest expiry first, reporting each as `'expired'`. */
  reclaimExpired(limit: number): void {
    const heap = this.#heap
    if (heap.length === 0) return
    heap.popExpired(Date.now(), limit, isCurrent, (entry) => this.#remove(entry, 'expired'))
    if (heap.length > 2 * this.#count + 1024) heap.compact(isCurrent)
  }

  #clear(): number {
    const removed = this.#count
    this.#root = new ScopeNode(null, '', '')
    this.#resetRootGroups()
    this.#heap.clear()
    this.#tags.clear()
    this.#count = 0
    return removed
  }

  #resetRootGroups(): void {
    this.#rootGroups = this.#policies.map((p) => (p.per === undefined ? newGroup(p) : undefined))
    this.#fair = this.#policies.map((p) => (p.fairness === undefined ? undefined : new FairShare()))
    const only =
      this.#policies.length === 1 &&
      this.#policies[0]!.order === 'lru' &&
      this.#policies[0]!.fairness === undefined
    this.#rootGroup0Lru = only ? (this.#rootGroups[0] as Group) : undefined
  }

  #find(path: ScopePath): ScopeNode | undefined {
    let node: ScopeNode | undefined = this.#root
    for (let i = 0; i < path.length; i++) {
      const segment: ScopeSegment = path[i]!
      node = node.children?.get(segment.level)?.get(segment.id)
      if (node === undefined) return undefined
    }
    return node
  }

  #findOrCreate(path: ScopePath): ScopeNode {
    let node = this.#root
    for (let i = 0; i < path.length; i++) {
      const { level, id } = path[i]!
      const children = (node.children ??= new Map())
      let byId = children.get(level)
      if (byId === undefined) children.set(level, (byId = new Map()))
      let child = byId.get(id)
      if (child === undefined) byId.set(id, (child = new ScopeNode(node, level, id)))
      node = child
    }
    return node
  }

  /** Removes a node from its parent, then every ancestor left empty, so idle tenants cost nothing. */
  #detach(node: ScopeNode): void {
    let current: ScopeNode = node
    while (current.parent !== null) {
      const parent: ScopeNode = current.parent
      const byId = parent.children!.get(current.level)!
      byId.delete(current.id)
      if (byId.size === 0) parent.children!.delete(current.level)
      if (parent.children!.size === 0) parent.children = null
      if (
        parent.parent === null ||
        parent.children !== null ||
        (parent.entries !== null && parent.entries.size !== 0)
      )
        return
      current = parent
    }
  }

  #remove(entry: Entry, reason: 'expired' | 'lru' | 'maxItems' | undefined): void {
    const node = entry.node!
    const ref =
      reason !== undefined && this.#context?.wantsEvictedRefs === true
        ? { scope: pathOf(node), key: entry.key }
        : undefined
    node.entries!.delete(entry.key)
    this.#unlink(entry, node)
    if (entry.tags !== null) this.#tags.remove(entry)
    entry.node = null
    this.#count--
    if (node.entries!.size === 0 && node.children === null && node.parent !== null) this.#detach(node)
    if (reason !== undefined) this.#onEvicted(reason, 1, ref)
  }

  #groupOf(node: ScopeNode, policy: number, create: boolean): AnyGroup | undefined {
    const { per, fairness } = this.#policies[policy]!
    const level = per ?? fairness
    if (level === undefined) return this.#rootGroups[policy]
    for (let n: ScopeNode | null = node; n !== null; n = n.parent) {
      if (n.level !== level) continue
      const groups = (n.groups ??= [])
      let group = groups[policy]
      if (group === undefined && create) groups[policy] = group = newGroup(this.#policies[policy]!)
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
  #admit(entry: Entry, node: ScopeNode): void {
    const policies = this.#policies
    if (policies.length > 1) entry.more = new Array<Entry | null>(2 * (policies.length - 1)).fill(null)
    let reclaimed = false
    for (let i = 0; i < policies.length; i++) {
      const group = this.#groupOf(node, i, true)
      if (group === undefined) continue
      if (group instanceof TinyLfuGroup) entry.lfu = group.add(entry, entryHash(node, entry.key))
      else append(group, entry, i)
      const policy = policies[i]!
      const fair = this.#fair[i]
      if (fair !== undefined) {
        reclaimed = this.#admitFair(fair, group, policy, reclaimed)
        continue
      }
      if (group.size > policy.maxItems && !reclaimed) {
        reclaimed = true
        this.reclaimExpired(Number.POSITIVE_INFINITY)
      }
      while (group.size > policy.maxItems) {
        this.#remove(group instanceof TinyLfuGroup ? group.victim() : group.head!, policy.reason)
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
      this.reclaimExpired(Number.POSITIVE_INFINITY)
    }
    while (fair.total > policy.maxItems) {
      const largest = fair.largest()
      this.#remove(largest instanceof TinyLfuGroup ? largest.victim() : largest.head!, policy.reason)
    }
    return reclaimed
  }

  #unlink(entry: Entry, node: ScopeNode): void {
    for (let i = 0; i < this.#policies.length; i++) {
      if (i === this.#lfuIndex) {
        const lfu = entry.lfu
        if (lfu !== null) {
          lfu.group.remove(lfu)
          this.#fair[i]?.removed(lfu.group)
        }
        entry.lfu = null
        continue
      }
      const group = this.#groupOf(node, i, false) as Group | undefined
      if (group !== undefined) {
        unlink(group, entry, i)
        this.#fair[i]?.removed(group)
      }
    }
  }

  #touch(entry: Entry): void {
    const group = this.#rootGroup0Lru
    if (group !== undefined) {
      // inline move-to-tail of policy 0's list (same as unlink + append below)
      if (group.tail === entry) return
      const prev = entry.prev
      const next = entry.next!
      if (prev === null) group.head = next
      else prev.next = next
      next.prev = prev
      entry.prev = group.tail
      entry.next = null
      group.tail!.next = entry
      group.tail = entry
      return
    }
    for (const i of this.#lruIndexes) {
      const group = this.#groupOf(entry.node!, i, false) as Group | undefined
      if (group !== undefined && group.tail !== entry) {
        unlink(group, entry, i)
        append(group, entry, i)
      }
    }
  }
}

/** An empty group for `policy`. */
function newGroup(policy: BoundPolicy): AnyGroup {
  return policy.order === 'tinylfu'
    ? new TinyLfuGroup<Entry>(policy.maxItems)
    : { head: null, tail: null, size: 0 }
}

/** The entry's hash for the TinyLFU sketch: its scope path's (cached on the node), then its key. */
function entryHash(node: ScopeNode, key: string): number {
  return hashString(key, scopeHash(node))
}

function scopeHash(node: ScopeNode): number {
  if (node.parent === null) return 0
  if (node.lfuHash !== 0) return node.lfuHash
  const hash = hashString(node.id, hashString(node.level, scopeHash(node.parent))) || 1
  node.lfuHash = hash
  return hash
}

function isCurrent(entry: Entry, time: number): boolean {
  return entry.node !== null && entry.expiresAt === time
}

/** Whether `node` is `target` or one of its descendants. */
function isUnder(node: ScopeNode, target: ScopeNode): boolean {
  for (let n: ScopeNode | null = node; n !== null; n = n.parent) if (n === target) return true
  return false
}

function pathOf(node: ScopeNode): ScopePath {
  const path: ScopeSegment[] = []
  for (let n: ScopeNode | null = node; n !== null && n.parent !== null; n = n.parent)
    path.push({ level: n.level, id: n.id })
  return path.reverse()
}

function prevOf(entry: Entry, policy: number): Entry | null {
  return policy === 0 ? entry.prev : entry.more![2 * policy - 2]!
}

function nextOf(entry: Entry, policy: number): Entry | null {
  return policy === 0 ? entry.next : entry.more![2 * policy - 1]!
}

function setPrev(entry: Entry, policy: number, value: Entry | null): void {
  if (policy === 0) entry.prev = value
  else entry.more![2 * policy - 2] = value
}

function setNext(entry: Entry, policy: number, value: Entry | null): void {
  if (policy === 0) entry.next = value
  else entry.more![2 * policy - 1] = value
}

function append(group: Group, entry: Entry, policy: number): void {
  setPrev(entry, policy, group.tail)
  setNext(entry, policy, null)
  if (group.tail === null) group.head = entry
  else setNext(group.tail, policy, entry)
  group.tail = entry
  group.size++
}

function unlink(group: Group, entry: Entry, policy: number): void {
  const prev = prevOf(entry, policy)
  const next = nextOf(entry, policy)
  if (prev === null) group.head = next
  else setNext(prev, policy, next)
  if (next === null) group.tail = prev
  else setPrev(next, policy, prev)
  setPrev(entry, policy, null)
  setNext(entry, policy, null)
  group.size--
}
