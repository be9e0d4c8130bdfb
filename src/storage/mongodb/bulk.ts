import type { AnyBulkWriteOperation, Binary, Collection } from 'mongodb'
import type { Miss, StoredEntry } from '../contract.js'
import { MISS } from '../contract.js'
import type { EntryDocument } from './document.js'
import { isExpired, scopeKeys } from './document.js'
import type { FencedWrite } from './fence.js'
import { tagFields } from './tags.js'

/**
 * The collection-level work of the MongoDB storage's bulk operations (`getMany`, `setMany`,
 * `deleteMany`); ordering and timeouts are `run.ts`'s, bounds and reports stay with `storage.ts`.
 */

/** Upserts per `bulkWrite` of `setMany` (each chunk gets its own timeout). */
export const WRITE_CHUNK = 100

/** What `findMany` answers: per id its entry or `MISS`, and the expired documents it found. */
export interface FoundMany {
  readonly found: (StoredEntry | Miss)[]
  /** Expired documents by id, with the `expiresAt` they were found with (to delete them unless rewritten). */
  readonly expired: Map<string, EntryDocument['expiresAt']>
}

/** One `find({ _id: { $in } })` for `ids` (duplicates allowed): entries in order, expired ones apart. */
export async function findMany(
  collection: Collection<EntryDocument>,
  ids: readonly string[],
  deserialize: (bytes: Uint8Array, id: string) => unknown,
): Promise<FoundMany> {
  const docs = await collection
    .find({ _id: { $in: [...new Set(ids)] } }, { projection: { v: 1, expiresAt: 1 } })
    .toArray()
  const byId = new Map(docs.map((doc) => [doc._id, doc]))
  const now = Date.now()
  const expired = new Map<string, EntryDocument['expiresAt']>()
  const found = ids.map((id): StoredEntry | Miss => {
    const doc = byId.get(id)
    // No `v`: a fenced write not committed yet (see fence.ts), invisible to readers.
    if (doc === undefined || doc.v === undefined) return MISS
    if (isExpired(doc.expiresAt, now)) {
      expired.set(id, doc.expiresAt)
      return MISS
    }
    const expiresAt = doc.expiresAt instanceof Date ? doc.expiresAt.getTime() : undefined
    return { value: deserialize(bytesOf(doc.v), id), expiresAt }
  })
  return { found, expired }
}

/** The upserts of prepared writes, in order (later writes of an id win in an ordered `bulkWrite`). */
export function upserts(
  prepared: readonly (FencedWrite & { v: Binary })[],
): AnyBulkWriteOperation<EntryDocument>[] {
  return prepared.map(({ id, ref, v, b, expiresAt, tick, tags }) => {
    // A write without tags drops the tags of the entry it replaces (see tags.ts). (`pending`: fenced
    // writes of other processes still in flight give up, see fence.ts.)
    const fields = { v, b, expiresAt, scopes: scopeKeys(ref.scope), accessedAt: tick }
    const [$set, $unset] = tagFields(fields, tags, { pending: '' })
    return {
      updateOne: {
        filter: { _id: id },
        update: { $set, $setOnInsert: { createdAt: tick }, $unset },
        upsert: true,
      },
    }
  })
}

/** One ordered `bulkWrite`; a duplicate-key race of two upserts of one new `_id` is retried. */
export async function bulkUpsert(
  collection: Collection<EntryDocument>,
  operations: AnyBulkWriteOperation<EntryDocument>[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await collection.bulkWrite(operations, { ordered: true })
      return
    } catch (error) {
      // Another process upserted the same new _id meanwhile: the upserts are idempotent, retry.
      if (attempt >= 3 || (error as { code?: unknown }).code !== 11000) throw error
    }
  }
}

/**
 * Removes `ids` (none repeated): one `find` of those present, then one `deleteMany` of them. Answers
 * which ids were live and which expired (a document another process writes between the two is
 * removed but not counted).
 */
export async function deleteIn(
  collection: Collection<EntryDocument>,
  ids: readonly string[],
): Promise<{ live: Set<string>; expired: string[] }> {
  const live = new Set<string>()
  const expired: string[] = []
  const docs = await collection
    .find({ _id: { $in: [...ids] } }, { projection: { _id: 1, expiresAt: 1, v: 1 } })
    .toArray()
  if (docs.length === 0) return { live, expired }
  const now = Date.now()
  for (const doc of docs) {
    if (doc.v === undefined) continue
    if (isExpired(doc.expiresAt, now)) expired.push(doc._id)
    else live.add(doc._id)
  }
  await collection.deleteMany({ _id: { $in: docs.map((doc) => doc._id) } })
  return { live, expired }
}

/** The stored bytes, whether the driver hands out a `Binary` or (with `promoteBuffers`) a `Buffer`. */
export function bytesOf(stored: Binary | Uint8Array): Uint8Array {
  return stored instanceof Uint8Array ? stored : stored.value()
}
