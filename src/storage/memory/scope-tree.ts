import type { ScopePath, ScopeSegment } from '../contract.js'
import { hashString } from './frequency-sketch.js'
import type { ListGroup } from './links.js'
import type { LfuNode, TinyLfuGroup } from './tinylfu.js'

/**
 * The memory store's scope tree: a tree of scope nodes (the root is the global scope) whose children are
 * indexed by level then id; each node holds its own entries in a `Map` keyed by the entry key. The tree
 * is the scope index itself, so evicting a scope detaches one subtree: O(entries in that scope), never
 * O(all entries). The lookup with its last-found fast path stays in `store.ts` (the hot read path).
 */

/** A group of a list policy (lru, insertion): see `links.ts`. */
export type Group = ListGroup<Entry>

/** A group of a policy: a linked list (lru, insertion) or a TinyLFU group. */
export type AnyGroup = Group | TinyLfuGroup<Entry>

/** One scope instance of the tree (the root: the global scope). */
export class ScopeNode {
  children: Map<string, Map<string, ScopeNode>> | null = null
  entries: Map<string, Entry> | null = null
  /** Groups of the policies bounded per this node's level, by policy index. */
  groups: (AnyGroup | undefined)[] | null = null
  /** Hash of the scope path for the TinyLFU sketch; 0 until computed. */
  lfuHash = 0
  /** Top-level nodes and the root only: bytes of the entries under this tenant (see `byte-accounting.ts`). */
  bytes = 0

  constructor(
    readonly parent: ScopeNode | null,
    readonly level: string,
    readonly id: string,
  ) {}
}

/** One stored entry, linked into the bound groups it falls under (see `bounds.ts`). */
export class Entry {
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

/** The node of `path` under `root`, created (with its missing ancestors) if needed. */
export function findOrCreate(root: ScopeNode, path: ScopePath): ScopeNode {
  let node = root
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
export function detach(node: ScopeNode): void {
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

/** The entry's hash for the TinyLFU sketch: its scope path's (cached on the node), then its key. */
export function entryHash(node: ScopeNode, key: string): number {
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
export function topOf(node: ScopeNode): ScopeNode {
  let n = node
  while (n.parent !== null && n.parent.parent !== null) n = n.parent
  return n
}

/** Whether `node` is `target` or one of its descendants. */
export function isUnder(node: ScopeNode, target: ScopeNode): boolean {
  for (let n: ScopeNode | null = node; n !== null; n = n.parent) if (n === target) return true
  return false
}

/** The scope path of `node`. */
export function pathOf(node: ScopeNode): ScopePath {
  const path: ScopeSegment[] = []
  for (let n: ScopeNode | null = node; n !== null && n.parent !== null; n = n.parent)
    path.push({ level: n.level, id: n.id })
  return path.reverse()
}
