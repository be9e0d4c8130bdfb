import type { Collection } from 'mongodb'
import type { AutomaticEvictionReason, StorageContext } from '../contract.js'
import { decodeEntryRef } from '../key-encoding.js'
import type { EntryDocument } from './document.js'
import { expiredFilter } from './document.js'

/**
 * Reports `count` automatic evictions to `context` (nothing before `attach`). Refs are given one by
 * one when a rule listens and `ids` are exactly the deleted documents; otherwise (or when a concurrent
 * writer took some) as one count.
 */
export function reportEvictions(
  context: StorageContext | undefined,
  reason: AutomaticEvictionReason,
  count: number,
  ids: readonly string[],
): void {
  if (context === undefined || count === 0) return
  if (context.wantsEvictedRefs && ids.length === count) {
    for (const id of ids) context.onEvicted(reason, 1, decodeEntryRef(id))
  } else {
    context.onEvicted(reason, count)
  }
}

/**
 * Deletes the expired documents matching `scope` and reports them as `'expired'`: by id when the
 * context wants refs (a find, then a delete of those still expired), otherwise in one `deleteMany`.
 */
export async function reclaimExpired(
  collection: Collection<EntryDocument>,
  scope: object,
  context: StorageContext | undefined,
): Promise<void> {
  const filter = { ...scope, ...expiredFilter(new Date()) }
  if (context?.wantsEvictedRefs) {
    const ids = (await collection.find(filter, { projection: { _id: 1 } }).toArray()).map((doc) => doc._id)
    if (ids.length === 0) return
    const { deletedCount } = await collection.deleteMany({
      _id: { $in: ids },
      ...expiredFilter(new Date()),
    })
    reportEvictions(context, 'expired', deletedCount, ids)
  } else {
    const { deletedCount } = await collection.deleteMany(filter)
    reportEvictions(context, 'expired', deletedCount, [])
  }
}
