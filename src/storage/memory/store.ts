import type {
  BoundPolicy,
  ByteUsage,
  EntryHandle,
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
import type { ListGroup } from './links.js'
import { append, nextOf, unlink } from './links.js'
import { hashString } from './frequency-sketch.js'
import type { LfuNode } from './tinylfu.js'
import { TinyLfuGroup } from './tinylfu.js'
import { measure } from './size.js'
import { checkEntryFits } from '../byte-budget.js'

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
 *
 * Bytes: when a policy has `maxBytes`, every write measures its value once (`sizeOf` or `estimateSize`)
 * before changing anything, refuses it with an `EntryTooLargeError` if it alone exceeds a budget that
 * covers it, and keeps `entry.bytes`; every group's `bytes` is the sum over its linked entries, each
 * top-level node's `bytes` the sum over its subtree (the root's: the global scope's entries), and
 * `#totalBytes` the sum over all entries. Without a byte budget nothing is measured (all stay 0).
 */

/** A group of a list policy (lru, insertion): see `links.ts`. */
type Group = ListGroup<Entry>

class ScopeNode {
  children: Map<string, Map<string, ScopeNode>> | null = null
  entries: Map<string, Entry> | null = null
  /** Groups of the policies bounded per this node's level, by policy index. */
  groups: (AnyGroup | undefined)[] | null = null
  /** Hash of the scope path for the TinyLFU sketch; 0 until computed. */
  lfuHash = 0
  /** Top-level nodes and the root only: bytes of the entries under this tenant (see the module comment). */
  bytes = 0

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
  /** The entry's measured size; 0 when no policy has a byte budget. */
  bytes = 0

  constructor(
    readonly key: string,
    public value: unknown,
    public expiresAt: number,
    /** The node holding the entry; null once removed (this is how stale heap items are recognised). */
    public node: ScopeNode | null,
  ) {}
}

/**
 * What {@link MemoryStore.handleOf} answers: the entry and the store's epoch at that time. Valid while
 * `entry.node` is not null (every removal path clears it) and the epoch is unchanged (a clear).
 */
class Handle implements EntryHandle {
  declare readonly __entryHandle?: never
  constructor(
    readonly entry: Entry,
    readonly epoch: number,
  ) {}
}

/** A group of a policy: a linked list (lru, insertion) or a TinyLFU group. */
type AnyGroup = Group | TinyLfuGroup<Entry>

const REPORT_NOTHING: StorageContext['onEvicted'] = () => undefined
/** The next store epoch (see `MemoryStore.#epoch`), shared by all stores of the process. */
let nextEpoch = 1
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
  /** Each policy's `maxBytes` (Infinity: none); empty when no policy has one (nothing is measured). */
  #maxBytes: number[] = []
  #sizeOf: ((value: unknown) => number) | undefined
  #totalBytes = 0
  /**
   * Changed when the whole store is cleared: handles taken before then are stale. Epochs are unique
   * across stores, so a handle of another store never reads here.
   */
  #epoch = nextEpoch++
  /** Bumped whenever scope nodes leave the tree (detached, or the store cleared). */
  #treeVersion = 0
  /**
   * The last scope path {@link MemoryStore.#find} found (its levels and ids, copied: a caller may reuse
   * and change its path array after the call), its node, and the tree version then.
   */
  readonly #lastPath: { levels: string[]; ids: string[] } = { levels: [], ids: [] }
  #lastFound: ScopeNode | undefined = undefined
  #lastVersion = -1

  /** Applies the cache's bounds and eviction listener; the store must be empty. */
  configure(context: StorageContext): void {
    this.#policies = context.bounds
    this.#lruIndexes = context.bounds.flatMap((p, i) => (p.order === 'lru' ? [i] : []))
    this.#lfuIndex = context.bounds.findIndex((p) => p.order === 'tinylfu')
    const sized = context.bounds.some((p) => p.maxBytes !== undefined)
    this.#maxBytes = sized ? context.bounds.map((p) => p.maxBytes ?? Number.POSITIVE_INFINITY) : []
    this.#sizeOf = context.bounds.find((p) => p.sizeOf !== undefined)?.sizeOf
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
    return entry === undefined ? undefined : this.#use(entry)
  }

  /** A read of `entry` (found by key or through a handle): removed if expired, else marked used. */
  #use(entry: Entry): Entry | undefined {
    if (entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
      this.#remove(entry, 'expired')
      return undefined
    }
    if (this.#lruIndexes.length !== 0) this.#touch(entry)
    const lfu = entry.lfu
    if (lfu !== null) lfu.group.accessed(lfu)
    return entry
  }

  /**
   * A handle to the entry of `ref` (undefined if there is none), for {@link MemoryStore.getByHandle}.
   * Not a read: it neither marks the entry used nor removes it when expired.
   */
  handleOf(ref: EntryRef): EntryHandle | undefined {
    const entry = this.#find(ref.scope)?.entries?.get(ref.key)
    return entry === undefined ? undefined : new Handle(entry, this.#epoch)
  }

  /**
   * The value of the handle's entry, read as `get` reads it, or `MISS` once the entry has left the store
   * (removed by any path, or the store cleared since the handle was taken) or expired. An overwrite
   * keeps the entry (and its handles): the handle then reads the new value.
   */
  getByHandle(handle: EntryHandle): unknown {
    const { entry, epoch } = handle as Handle
    if (entry.node === null || epoch !== this.#epoch) return MISS
    return this.#use(entry) === undefined ? MISS : entry.value
  }

  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): void {
    // measured and checked before anything changes: a refused write leaves the store as it was
    const bytes = this.#maxBytes.length === 0 ? 0 : this.#measure(ref, value)
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
      if (bytes !== existing.bytes) this.#resize(existing, node, bytes)
    } else {
      const entry = new Entry(ref.key, value, expiresAt, node)
      if (bytes !== 0) this.#addBytes(entry, node, bytes)
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
          if (entry.bytes !== 0) this.#dropBytes(current, entry.bytes)
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
    // The old tree's entries keep their nodes: the epoch is what invalidates their handles.
    this.#epoch = nextEpoch++
    this.#treeVersion++
    this.#root = new ScopeNode(null, '', '')
    this.#resetRootGroups()
    this.#heap.clear()
    this.#tags.clear()
    this.#count = 0
    this.#totalBytes = 0
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
    if (path.length === 0) return this.#root
    // Reads of one tenant come in bursts: the last scope found is answered without walking the tree,
    // as long as no node has left the tree since (see #treeVersion).
    const last = this.#lastFound
    if (last !== undefined && this.#lastVersion === this.#treeVersion && isLastPath(path, this.#lastPath))
      return last
    let node: ScopeNode | undefined = this.#root
    for (let i = 0; i < path.length; i++) {
      const segment: ScopeSegment = path[i]!
      node = node.children?.get(segment.level)?.get(segment.id)
      if (node === undefined) return undefined
    }
    const { levels, ids } = this.#lastPath
    levels.length = ids.length = path.length
    for (let i = 0; i < path.length; i++) {
      levels[i] = path[i]!.level
      ids[i] = path[i]!.id
    }
    this.#lastFound = node
    this.#lastVersion = this.#treeVersion
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
    this.#treeVersion++
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
    if (entry.bytes !== 0) this.#dropBytes(node, entry.bytes)
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
      group.bytes += entry.bytes
      const policy = policies[i]!
      const fair = this.#fair[i]
      if (fair !== undefined) {
        reclaimed = this.#admitFair(fair, group, policy, reclaimed)
        continue
      }
      const maxBytes = this.#maxBytes[i] ?? Number.POSITIVE_INFINITY
      if ((group.size > policy.maxItems || group.bytes > maxBytes) && !reclaimed) {
        reclaimed = true
        this.reclaimExpired(Number.POSITIVE_INFINITY)
      }
      while (group.size > policy.maxItems || group.bytes > maxBytes) {
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
          lfu.group.bytes -= entry.bytes
          this.#fair[i]?.removed(lfu.group)
        }
        entry.lfu = null
        continue
      }
      const group = this.#groupOf(node, i, false) as Group | undefined
      if (group !== undefined) {
        unlink(group, entry, i)
        group.bytes -= entry.bytes
        this.#fair[i]?.removed(group)
      }
    }
  }

  // --- byte budgets (see the module comment) ---

  /** The size of `value` for `ref`, refused if it alone exceeds a budget covering `ref`. */
  #measure(ref: EntryRef, value: unknown): number {
    const bytes = measure(value, this.#sizeOf)
    checkEntryFits(this.#policies, ref.scope, bytes)
    return bytes
  }

  /** Sets the bytes of a new entry (before it is linked) and adds them to the totals. */
  #addBytes(entry: Entry, node: ScopeNode, bytes: number): void {
    entry.bytes = bytes
    this.#totalBytes += bytes
    topOf(node).bytes += bytes
  }

  #dropBytes(node: ScopeNode, bytes: number): void {
    this.#totalBytes -= bytes
    topOf(node).bytes -= bytes
  }

  /**
   * An overwrite changed an entry's size: updates every total, then evicts other entries while a
   * byte budget is exceeded (never the entry just written: a TinyLFU node is re-added at the window's
   * tail, which its victim choice never picks; in a list the next entry goes instead).
   */
  #resize(entry: Entry, node: ScopeNode, bytes: number): void {
    const delta = bytes - entry.bytes
    entry.bytes = bytes
    this.#totalBytes += delta
    topOf(node).bytes += delta
    const groups: (AnyGroup | undefined)[] = []
    for (let i = 0; i < this.#policies.length; i++) {
      const group = this.#groupOf(node, i, false)
      groups.push(group)
      if (group !== undefined) group.bytes += delta
    }
    if (delta <= 0) return
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]
      if (group === undefined || !(group.bytes > this.#maxBytes[i]!)) continue
      this.reclaimExpired(Number.POSITIVE_INFINITY)
      if (group instanceof TinyLfuGroup && entry.lfu !== null && group.bytes > this.#maxBytes[i]!) {
        group.remove(entry.lfu)
        entry.lfu = group.add(entry, entry.lfu.hash)
      }
      while (group.bytes > this.#maxBytes[i]!) {
        const victim =
          group instanceof TinyLfuGroup
            ? group.victim()
            : group.head === entry
              ? nextOf(entry, i)!
              : group.head!
        this.#remove(victim, this.#policies[i]!.reason)
      }
    }
  }

  /** Bytes in total and per top-level scope instance (the root: global-scope entries), largest first. */
  byteUsage(topN: number): ByteUsage | undefined {
    if (this.#maxBytes.length === 0) return undefined
    this.reclaimExpired(Number.POSITIVE_INFINITY)
    const top: { scope: ScopePath; bytes: number }[] = []
    if (this.#root.bytes !== 0) top.push({ scope: [], bytes: this.#root.bytes })
    for (const byId of this.#root.children?.values() ?? []) {
      for (const child of byId.values()) {
        if (child.bytes !== 0) top.push({ scope: [{ level: child.level, id: child.id }], bytes: child.bytes })
      }
    }
    top.sort((a, b) => b.bytes - a.bytes)
    return { total: this.#totalBytes, top: top.slice(0, topN) }
  }

  /** Whether writes are measured (a policy has a byte budget). */
  get measuresBytes(): boolean {
    return this.#maxBytes.length !== 0
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
  if (policy.order !== 'tinylfu') return { head: null, tail: null, size: 0, bytes: 0 }
  // A bytes-only bound sizes the window and sketch for maxBytes / 256 entries (see TinyLFUEvict).
  const sizing = Number.isFinite(policy.maxItems)
    ? policy.maxItems
    : Math.max(64, Math.floor(policy.maxBytes! / 256))
  return new TinyLfuGroup<Entry>(sizing)
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

/** The top-level node holding `node` (the root for the global scope). */
function topOf(node: ScopeNode): ScopeNode {
  let n = node
  while (n.parent !== null && n.parent.parent !== null) n = n.parent
  return n
}

function isCurrent(entry: Entry, time: number): boolean {
  return entry.node !== null && entry.expiresAt === time
}

/** Whether `path` names the scope whose levels and ids are `last` (a copy of an earlier path). */
function isLastPath(path: ScopePath, last: { readonly levels: string[]; readonly ids: string[] }): boolean {
  const { levels, ids } = last
  if (path.length !== ids.length) return false
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!
    if (segment.id !== ids[i] || segment.level !== levels[i]) return false
  }
  return true
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
