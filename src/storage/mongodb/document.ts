import type { Binary, Collection, Filter, UpdateFilter, UpdateResult } from 'mongodb'
import type { BoundPolicy, ScopePath } from '../contract.js'
import { encodeScopePath, encodeSegment } from '../key-encoding.js'

/**
 * The layout of one cache entry in MongoDB (one document per entry):
 *
 * ```js
 * { _id: 'organization=o1/user=u1/|key',          // encodeEntryRef(ref): unique per ref
 *   v: Binary(...),                                // serializer bytes
 *   expiresAt: ISODate(...) | null,                // null: never expires
 *   scopes: ['organization=o1/', 'organization=o1/user=u1/'],  // encoded ancestor-or-self paths
 *   createdAt: 1732500000000123,                   // clock tick of first insertion (insertion order)
 *   accessedAt: 1732500000000456 }                 // clock tick of last read or write (LRU order)
 * ```
 *
 * `scopes` holds every non-root ancestor-or-self path of the entry's scope, so one indexed equality
 * (`{ scopes: encodeScopePath(path) }`) selects a whole subtree, and the same value is the group key of
 * a bound `per` a level (the group of `per: 'user'` is the entry's ancestor path ending at its user
 * segment). Every value that reaches a filter is a string, a number or a Date computed here, never a
 * caller's object, so no key or scope id can act as a query operator.
 */
export interface EntryDocument {
  /** The encoded entry ref (`encodeEntryRef`): unique per entry, tenant first. */
  _id: string
  /** A `Binary`, or a `Buffer` when the client was created with `promoteBuffers`. */
  v: Binary | Uint8Array
  /** When the entry expires (a TTL index may reclaim it); `null` for never. */
  expiresAt: Date | null
  /** The encoded ancestor-or-self scope paths, shortest first: `evictScope` is one `deleteMany` on them. */
  scopes: string[]
  /** Clock tick of the first insertion (a strictly increasing clock: epoch ms × 1000 plus a counter), for insertion-order bounds. */
  createdAt: number
  /** Last read or write on the same clock, for LRU bounds. */
  accessedAt: number
  /** The entry's tags (see `tags.ts`); absent when it has none. */
  tags?: string[]
  /** The stored value's byte length (byte budgets count it); absent on documents of older versions. */
  b?: number
}

/** The encoded ancestor-or-self paths of `path`, shortest first; `[]` for the global root. */
export function scopeKeys(path: ScopePath): string[] {
  const keys: string[] = []
  let prefix = ''
  for (const segment of path) {
    prefix += encodeSegment(segment.level, segment.id)
    keys.push(prefix)
  }
  return keys
}

/**
 * The group an entry at `path` belongs to under `bound`: `null` for the cache-wide group, the encoded
 * path of its `per` ancestor otherwise, or `undefined` when the entry is not under that level.
 */
export function groupKey(bound: BoundPolicy, path: ScopePath): string | null | undefined {
  if (bound.per === undefined) return null
  const index = path.findIndex((segment) => segment.level === bound.per)
  return index === -1 ? undefined : encodeScopePath(path.slice(0, index + 1))
}

/** Filter of the documents of one bound group (see {@link groupKey}). */
export function groupFilter(group: string | null): Filter<EntryDocument> {
  return group === null ? {} : { scopes: group }
}

/**
 * Filter of the documents at or under `path` (not the root): a range of `_id`, because an entry's `_id`
 * starts with the encoded path of each of its ancestor-or-self scopes and only those (key-encoding.ts).
 * The encoded path ends with `/`; every string starting with it sorts at or after it and before the
 * same string ending with `0` (the next character), and every string in between starts with it. The
 * comparison is plain binary string order (no collation), on MongoDB and FerretDB alike.
 *
 * Why `_id` rather than `scopes`: the `_id` index exists on every server and collection, old or new,
 * and it is the one field FerretDB 1.x stores as an indexed column of its own.
 */
export function subtreeFilter(path: ScopePath): Filter<EntryDocument> {
  const prefix = encodeScopePath(path)
  return { _id: { $gte: prefix, $lt: `${prefix.slice(0, -1)}0` } }
}

/** Filter of the documents still alive at `now`. */
export function liveFilter(now: Date): Filter<EntryDocument> {
  return { $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] }
}

/**
 * Filter of the live, committed entries at `now`: a document without `v` holds only a fenced write
 * still in flight (see fence.ts), which nobody may see yet.
 */
export function visibleFilter(now: Date): Filter<EntryDocument> {
  return { ...liveFilter(now), v: { $exists: true } }
}

/**
 * Filter of the documents stored directly in `path` (not in its descendants): `encodeEntryRef` puts the
 * encoded path, then `|`, first, so they are the `_id` range from `<path>|` to `<path>}` ('}' follows '|').
 */
export function nodeFilter(path: ScopePath): Filter<EntryDocument> {
  const prefix = encodeScopePath(path)
  return { _id: { $gte: `${prefix}|`, $lt: `${prefix}}` } }
}

/** Filter of the documents expired at `now` (documents without expiry never match). */
export function expiredFilter(now: Date): Filter<EntryDocument> {
  return { expiresAt: { $lte: now } }
}

/** Whether a stored expiry has passed at `now` (epoch ms); `null` never expires. */
export function isExpired(expiresAt: Date | null | undefined, now: number): boolean {
  return expiresAt instanceof Date && expiresAt.getTime() <= now
}

let lastTick = 0

/**
 * A strictly increasing clock for `createdAt` / `accessedAt`: epoch milliseconds × 1000 plus a counter,
 * so two operations of one process never tie, and operations of different processes order by wall
 * clock (to the millisecond, ties broken by `_id`). Stays below 2^53 until the year 2255.
 */
export function nextTick(): number {
  const now = Date.now() * 1000
  lastTick = now > lastTick ? now : lastTick + 1
  return lastTick
}

/** MongoDB's duplicate-key error code. */
export const DUPLICATE_KEY = 11000

/** Attempts of {@link upsertOne} before a duplicate-key error is passed on (each loser retries once). */
const UPSERT_ATTEMPTS = 3

/**
 * `updateOne(filter, update, { upsert: true })` that never fails on the upsert race. Two clients
 * upserting one missing `_id` at the same moment both find no document and both insert; the unique
 * `_id` index lets one insert win and fails the other with E11000 (MongoDB retries this itself only in
 * some cases; FerretDB 1.x never does: 40% of concurrent first writes of one key failed). The loser's
 * retry finds the winner's document and updates it, which is exactly what a serial execution would do.
 */
export async function upsertOne<T extends { _id: string }>(
  collection: Collection<T>,
  filter: Filter<T>,
  update: UpdateFilter<T>,
): Promise<UpdateResult<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await collection.updateOne(filter, update, { upsert: true })
    } catch (error) {
      if (attempt >= UPSERT_ATTEMPTS || (error as { code?: unknown }).code !== DUPLICATE_KEY) throw error
    }
  }
}
