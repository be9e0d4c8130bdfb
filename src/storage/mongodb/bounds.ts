import type { Collection, Filter } from 'mongodb'
import type { BoundPolicy, ByteUsage, ScopePath } from '../contract.js'
import { decodeScopePath } from '../key-encoding.js'
import type { EntryDocument } from './document.js'
import { groupFilter, groupKey, liveFilter } from './document.js'

/** Receives the ids a bound deleted: `deleted` of them are gone (all of them when the counts agree). */
export type BoundEvictionReport = (
  reason: BoundPolicy['reason'],
  deleted: number,
  ids: readonly string[],
) => void

/**
 * Deletes the expired documents matching `filter` (reporting them as `'expired'` evictions), so that
 * they no longer take a bound's place.
 */
export type ReclaimExpired = (filter: Filter<EntryDocument>) => Promise<void>

/**
 * Rounds of count-then-evict per bound and write. A round ends early when its deletion removed every
 * victim it chose; a short count means a concurrent writer (another process, or another call of this
 * one) evicted the same victims, so the group is counted again.
 */
const MAX_ROUNDS = 4

/**
 * Enforces every bound the entry at `path` falls under, in the database, after a write: counts the
 * group (the whole collection, or the subtree of the entry's `per` ancestor) and deletes the oldest
 * documents by `accessedAt` (LRU) or `createdAt` (insertion order) until the group fits.
 *
 * What holds: with one writer, every bound holds when the write resolves. With concurrent writers
 * (several processes, no multi-document transactions) each writer counts after its own insert, so the
 * last one to count sees every insert before it; a group may exceed its bound by at most the number of
 * writes in flight, and holds again once they have resolved. Victims chosen twice are deleted once
 * and reported once (by whoever deleted them), so eviction stats stay exact across processes.
 *
 * Bounds count live entries only: when a group is over its bound, its expired documents that the
 * sweeper has not reclaimed yet are deleted first (and reported as expired), then it is counted again,
 * so an expired entry never makes a write evict a live one. A group under its bound costs nothing more.
 *
 * The cache-wide group is counted with `estimatedDocumentCount` (collection metadata, O(1)); a scoped
 * group with an indexed `countDocuments` on `scopes` (O(group)).
 */
export async function enforceBounds(
  collection: Collection<EntryDocument>,
  bounds: readonly BoundPolicy[],
  path: ScopePath,
  report: BoundEvictionReport,
  reclaimExpired: ReclaimExpired,
  written?: string,
): Promise<void> {
  for (const bound of bounds) {
    const group = groupKey(bound, path)
    if (group === undefined) continue
    const filter = groupFilter(group)
    if (bound.maxBytes !== undefined) {
      await enforceBytes(collection, bound, bound.maxBytes, filter, report, reclaimExpired, written)
    }
    if (!Number.isFinite(bound.maxItems)) continue
    const field = bound.order === 'lru' ? 'accessedAt' : 'createdAt'
    const count = () =>
      group === null ? collection.estimatedDocumentCount() : collection.countDocuments(filter)
    let reclaimed = false
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let excess = (await count()) - bound.maxItems
      if (excess > 0 && !reclaimed) {
        reclaimed = true
        await reclaimExpired(filter)
        excess = (await count()) - bound.maxItems
      }
      if (excess <= 0) break
      const victims = await collection
        .find(filter, { projection: { _id: 1 }, sort: { [field]: 1, _id: 1 }, limit: excess })
        .toArray()
      if (victims.length === 0) break
      const ids = victims.map((doc) => doc._id)
      const { deletedCount } = await collection.deleteMany({ _id: { $in: ids } })
      if (deletedCount > 0) report(bound.reason, deletedCount, ids)
      if (deletedCount === ids.length) break
    }
  }
}

/** Victims read per round of a byte budget's eviction. */
const BYTE_VICTIMS_PER_ROUND = 200

/** Bytes of the documents matching `filter` (the `b` field: each stored value's byte length). */
async function groupBytes(
  collection: Collection<EntryDocument>,
  filter: Filter<EntryDocument>,
): Promise<number> {
  const [row] = await collection
    .aggregate<{ bytes: number }>([{ $match: filter }, { $group: { _id: null, bytes: { $sum: '$b' } } }])
    .toArray()
  return row?.bytes ?? 0
}

/**
 * A byte budget, the same way as `maxItems` (same guarantees across processes): sums the group's `b`
 * (one aggregation, O(group)), and while it is over, deletes the oldest documents by the bound's order
 * until their bytes cover the excess, never the document just `written`.
 */
async function enforceBytes(
  collection: Collection<EntryDocument>,
  bound: BoundPolicy,
  maxBytes: number,
  filter: Filter<EntryDocument>,
  report: BoundEvictionReport,
  reclaimExpired: ReclaimExpired,
  written: string | undefined,
): Promise<void> {
  const field = bound.order === 'lru' ? 'accessedAt' : 'createdAt'
  const others: Filter<EntryDocument> = written === undefined ? filter : { ...filter, _id: { $ne: written } }
  let reclaimed = false
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let excess = (await groupBytes(collection, filter)) - maxBytes
    if (excess > 0 && !reclaimed) {
      reclaimed = true
      await reclaimExpired(filter)
      excess = (await groupBytes(collection, filter)) - maxBytes
    }
    if (excess <= 0) return
    const candidates = await collection
      .find(others, {
        projection: { _id: 1, b: 1 },
        sort: { [field]: 1, _id: 1 },
        limit: BYTE_VICTIMS_PER_ROUND,
      })
      .toArray()
    const ids: string[] = []
    let freed = 0
    for (const doc of candidates) {
      if (freed >= excess) break
      ids.push(doc._id)
      freed += doc.b ?? 0
    }
    if (ids.length === 0) return
    const { deletedCount } = await collection.deleteMany({ _id: { $in: ids } })
    if (deletedCount > 0) report(bound.reason, deletedCount, ids)
    if (deletedCount === ids.length && freed >= excess) return
  }
}

/**
 * Bytes of the live documents, in total and for the `topN` top-level scope instances holding the most:
 * one aggregation summing `b` per scope node (`scopes` array), merged here by its first element (the
 * tenant). O(live documents) in the database, O(scope nodes) sent back: meant for `stats()`.
 */
export async function tenantBytes(collection: Collection<EntryDocument>, topN: number): Promise<ByteUsage> {
  const rows = await collection
    .aggregate<{ _id: string[] | null; bytes: number }>([
      { $match: liveFilter(new Date()) },
      { $group: { _id: '$scopes', bytes: { $sum: '$b' } } },
    ])
    .toArray()
  const byTenant = new Map<string, number>()
  for (const row of rows) {
    const tenant = Array.isArray(row._id) && row._id.length !== 0 ? row._id[0]! : ''
    byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + row.bytes)
  }
  const tenants = [...byTenant]
    .filter(([, bytes]) => bytes > 0)
    .map(([tenant, bytes]) => ({ scope: tenant === '' ? [] : decodeScopePath(tenant), bytes }))
    .sort((a, b) => b.bytes - a.bytes)
  return { total: tenants.reduce((sum, t) => sum + t.bytes, 0), top: tenants.slice(0, topN) }
}
