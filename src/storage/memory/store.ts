import type {
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
import { BoundGroups } from './bounds.js'
import { ByteAccounting } from './byte-accounting.js'
import { ExpiryHeap } from './expiry-heap.js'
import type { Group } from './scope-tree.js'
import { detach, Entry, findOrCreate, isUnder, pathOf, ScopeNode } from './scope-tree.js'
import { TagIndex } from './tag-index.js'

/**
 * The in-memory data structure behind `InMemory`, built of parts with one job each:
 * - the scope tree (`scope-tree.ts`): nodes per scope instance, each holding its own entries, so
 *   evicting a scope detaches one subtree; the lookup (`#find`, with its last-found fast path) is here;
 * - the bounds (`bounds.ts`): per-policy groups (LRU/insertion lists, TinyLFU, fair shares) and
 *   admission; the common single cache-wide LRU list is touched inline here on a hit;
 * - the byte accounting (`byte-accounting.ts`): sizes measured only under a byte budget;
 * - tags: a {@link TagIndex} (tag -> entries), kept by writes and by every removal; reads never touch it.
 *
 * Expiry: `expiresAt` (epoch ms, 0 = never) is checked on every read; a min-heap of expiry times lets
 * writes, `size()` and the optional sweeper reclaim expired entries without scanning.
 */

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

const REPORT_NOTHING: StorageContext['onEvicted'] = () => undefined
/** The next store epoch (see `MemoryStore.#epoch`), shared by all stores of the process. */
let nextEpoch = 1
/** Expired entries reclaimed per write, so that writes stay O(log n) amortised. */
const RECLAIM_PER_WRITE = 4

/** Synchronous in-memory store; see the module comment for its layout and invariants. */
export class MemoryStore implements SyncStorageOperations {
  #root = new ScopeNode(null, '', '')
  #count = 0
  readonly #bounds = new BoundGroups({
    remove: (entry, reason) => this.#remove(entry, reason),
    reclaimAllExpired: () => this.reclaimExpired(Number.POSITIVE_INFINITY),
  })
  /** Whether any policy is bounded (a new entry is admitted into the bound groups). */
  #bounded = false
  /** Whether an LRU policy exists (reads and writes touch the entry). */
  #touches = false
  /** `#bounds.rootGroup0Lru`, copied here for the hot path (see {@link MemoryStore.#touch}). */
  #rootGroup0Lru: Group | undefined
  readonly #bytes = new ByteAccounting()
  #heap = new ExpiryHeap<Entry>()
  readonly #tags = new TagIndex<Entry>()
  #onEvicted: StorageContext['onEvicted'] = REPORT_NOTHING
  #context: StorageContext | undefined
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
    this.#bounds.configure(context.bounds)
    this.#bytes.configure(context.bounds)
    this.#bounded = context.bounds.length !== 0
    this.#touches = this.#bounds.lruIndexes.length !== 0
    this.#rootGroup0Lru = this.#bounds.rootGroup0Lru
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
    if (this.#touches) this.#touch(entry)
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
    const bytes = this.#bytes.measures ? this.#bytes.measure(ref, value) : 0
    const expiresAt = ttlMs === undefined ? 0 : Date.now() + ttlMs
    const node = findOrCreate(this.#root, ref.scope)
    const entries = (node.entries ??= new Map())
    const existing = entries.get(ref.key)
    const tags = options?.tags
    if (existing !== undefined) {
      existing.value = value
      existing.expiresAt = expiresAt
      if (expiresAt !== 0) this.#heap.push(expiresAt, existing)
      if (existing.tags !== null || tags !== undefined) this.#retag(existing, tags)
      if (this.#touches) this.#touch(existing)
      if (existing.lfu !== null) existing.lfu.group.written(existing.lfu)
      if (bytes !== existing.bytes) {
        const delta = bytes - existing.bytes
        existing.bytes = bytes
        this.#bytes.add(node, delta)
        this.#bounds.resized(existing, node, delta)
      }
    } else {
      const entry = new Entry(ref.key, value, expiresAt, node)
      if (bytes !== 0) {
        entry.bytes = bytes
        this.#bytes.add(node, bytes)
      }
      entries.set(ref.key, entry)
      this.#count++
      if (expiresAt !== 0) this.#heap.push(expiresAt, entry)
      if (tags !== undefined) this.#retag(entry, tags)
      if (this.#bounded) this.#bounds.admit(entry, node)
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
          this.#bounds.unlink(entry, current)
          if (entry.bytes !== 0) this.#bytes.add(current, -entry.bytes)
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
    this.#bounds.reset()
    this.#rootGroup0Lru = this.#bounds.rootGroup0Lru
    this.#heap.clear()
    this.#tags.clear()
    this.#count = 0
    this.#bytes.total = 0
    return removed
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

  /** Detaches `node` and its ancestors left empty (see `scope-tree.ts`); the last-found scope is stale. */
  #detach(node: ScopeNode): void {
    this.#treeVersion++
    detach(node)
  }

  #remove(entry: Entry, reason: 'expired' | 'lru' | 'maxItems' | undefined): void {
    const node = entry.node!
    const ref =
      reason !== undefined && this.#context?.wantsEvictedRefs === true
        ? { scope: pathOf(node), key: entry.key }
        : undefined
    node.entries!.delete(entry.key)
    this.#bounds.unlink(entry, node)
    if (entry.bytes !== 0) this.#bytes.add(node, -entry.bytes)
    if (entry.tags !== null) this.#tags.remove(entry)
    entry.node = null
    this.#count--
    if (node.entries!.size === 0 && node.children === null && node.parent !== null) this.#detach(node)
    if (reason !== undefined) this.#onEvicted(reason, 1, ref)
  }

  /** Bytes in total and per top-level scope instance (the root: global-scope entries), largest first. */
  byteUsage(topN: number): ByteUsage | undefined {
    if (!this.#bytes.measures) return undefined
    this.reclaimExpired(Number.POSITIVE_INFINITY)
    return this.#bytes.usage(this.#root, topN)
  }

  /** Whether writes are measured (a policy has a byte budget). */
  get measuresBytes(): boolean {
    return this.#bytes.measures
  }

  /** Marks `entry` used for the LRU policies: inline for the common single cache-wide LRU list. */
  #touch(entry: Entry): void {
    const group = this.#rootGroup0Lru
    if (group !== undefined) {
      // inline move-to-tail of policy 0's list (same as unlink + append in links.ts)
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
    this.#bounds.touch(entry)
  }
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
