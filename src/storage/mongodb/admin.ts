import type { Binary, Collection, Filter } from 'mongodb'
import { MongoClient } from 'mongodb'
import type { ScopePath } from '../contract.js'
import type { EntryInfo, InspectReport, StatsOptions, StatsReport, StorageAdmin } from '../admin.js'
import { groupOf, UsageTally, withDeadline } from '../admin.js'
import { decodeEntryRef, encodeEntryRef, encodeScopePath } from '../key-encoding.js'
import type { EntryDocument } from './document.js'
import { visibleFilter } from './document.js'
import { MongoFences } from './fence.js'
import { tagsFilter } from './tags.js'

/** How {@link openMongoDBAdmin} connects. */
export interface MongoDBAdminOptions {
  /** `mongodb://[user:password@]host:port[/database]` (or `mongodb+srv://`); database default `cacheado`. */
  readonly url: string
  /** The collection (MongoDBStorage's `collectionName`, default `cache`). */
  readonly collection: string
  /** Server selection, connect and socket timeout in milliseconds. */
  readonly timeoutMs: number
}

/** Documents deleted per batch by {@link MongoDBAdmin.evict}. */
const EVICT_BATCH = 1000

/** Connects (failing after `timeoutMs` when no server answers) and returns the admin. */
export async function openMongoDBAdmin(options: MongoDBAdminOptions): Promise<MongoDBAdmin> {
  const url = new URL(options.url)
  const dbName = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'cacheado'
  if (url.password !== '') url.password = '***'
  const where = `${url.protocol}//${url.host}/${dbName}`
  const client = new MongoClient(options.url, {
    serverSelectionTimeoutMS: options.timeoutMs,
    connectTimeoutMS: options.timeoutMs,
    socketTimeoutMS: options.timeoutMs,
  })
  try {
    await withDeadline(client.connect(), options.timeoutMs, `no answer within ${options.timeoutMs} ms`)
  } catch (error) {
    await closeWithin(client, options.timeoutMs)
    throw new Error(`cannot connect to ${where}: ${(error as Error).message}`, { cause: error })
  }
  const db = client.db(dbName)
  let exists: number
  try {
    exists = (await db.listCollections({ name: options.collection }, { nameOnly: true }).toArray()).length
  } catch (error) {
    await closeWithin(client, options.timeoutMs)
    throw error
  }
  const warning =
    exists === 0
      ? `the database "${dbName}" has no collection "${options.collection}"; check --collection and the database in the URL`
      : undefined
  return new MongoDBAdmin(
    client,
    db.collection<EntryDocument>(options.collection),
    `${where} (collection ${options.collection})`,
    warning,
    options.timeoutMs,
  )
}

/** Closes the client, giving up (the process is about to end) when a stalled server holds it. */
async function closeWithin(client: MongoClient, ms: number): Promise<void> {
  await withDeadline(client.close(), ms, 'close timed out').catch(() => undefined)
}

/**
 * The operator's view of one MongoDBStorage collection (layout in `document.ts`). `count` is one
 * indexed `countDocuments`; `stats` and `inspect` read the documents' `scopes` and, for sizes, their
 * value bytes (one pass over a cursor: portable across MongoDB and FerretDB, at the price of reading
 * the values). Live means `expiresAt` null or in the future, as in `MongoDBStorage.size()`.
 */
export class MongoDBAdmin implements StorageAdmin {
  constructor(
    readonly client: MongoClient,
    readonly collection: Collection<EntryDocument>,
    readonly description: string,
    readonly warning: string | undefined,
    /** The bound of `close()` on a server that does not answer. */
    readonly timeoutMs = 3000,
  ) {}

  async stats(options: StatsOptions): Promise<StatsReport> {
    const tally = new UsageTally()
    const projection = options.bytes ? { _id: 1, v: 1 } : { _id: 1 }
    const cursor = this.collection.find(visibleFilter(new Date()), { projection })
    for await (const doc of cursor) {
      tally.add(groupOf(doc._id, options.depth), options.bytes ? sizeOf(doc.v) : 0)
    }
    return tally.report(options.limit, options.bytes)
  }

  count(path: ScopePath): Promise<number> {
    return this.collection.countDocuments(this.#live(path))
  }

  async inspect(path: ScopePath, limit: number): Promise<InspectReport> {
    const filter = this.#live(path)
    const entries = await this.collection.countDocuments(filter)
    const now = Date.now()
    const docs = await this.collection
      .find(filter, { projection: { _id: 1, v: 1, expiresAt: 1 } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray()
    const shown: EntryInfo[] = docs.map((doc) => {
      const ref = decodeEntryRef(doc._id)
      const ttlMs = doc.expiresAt instanceof Date ? Math.max(0, doc.expiresAt.getTime() - now) : null
      return { scope: ref.scope, key: ref.key, bytes: sizeOf(doc.v), ttlMs }
    })
    return { entries, shown }
  }

  /**
   * Deletes the documents `MongoDBStorage.evictScope` deletes (the same filter on `scopes`), in
   * batches of 1000 so that progress can be reported. One document is the whole entry, so there is no
   * index of ours to keep in step; like `evictScope`, the count includes expired documents not yet
   * reclaimed.
   */
  async evict(path: ScopePath, onProgress: (removedSoFar: number) => void): Promise<number> {
    const filter: Filter<EntryDocument> = path.length === 0 ? {} : { scopes: encodeScopePath(path) }
    let removed = 0
    for (;;) {
      const batch = await this.collection
        .find(filter, { projection: { _id: 1 } })
        .limit(EVICT_BATCH)
        .toArray()
      if (batch.length === 0) return removed
      const { deletedCount } = await this.collection.deleteMany({
        ...filter,
        _id: { $in: batch.map((doc) => doc._id) },
      })
      removed += deletedCount
      onProgress(removed)
    }
  }

  /** MongoDB has no bus: caches' local tiers over it learn of an eviction at `local.ttlSeconds`. */
  readonly bus = undefined

  /** Deletes the entry's document (its `_id` is the encoded entry ref). */
  async evictKey(path: ScopePath, key: string): Promise<boolean> {
    const { deletedCount } = await this.collection.deleteOne({ _id: encodeEntryRef({ scope: path, key }) })
    return deletedCount === 1
  }

  /**
   * `MongoDBStorage.invalidateTags`: the generation of `path` raised first (write fences, see
   * `fence.ts`), then one `deleteMany` on the subtree and the `tags` array.
   */
  async invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    await new MongoFences(this.client.db(this.collection.dbName), this.collection.collectionName).bump(path)
    const { deletedCount } = await this.collection.deleteMany(tagsFilter(tags, path))
    return deletedCount
  }

  async close(): Promise<void> {
    await closeWithin(this.client, this.timeoutMs)
  }

  #live(path: ScopePath): Filter<EntryDocument> {
    const live = visibleFilter(new Date())
    return path.length === 0 ? live : { scopes: encodeScopePath(path), ...live }
  }
}

/** Bytes of a stored value, whether the driver hands out a `Binary` or a `Buffer`. */
function sizeOf(value: Binary | Uint8Array | undefined): number {
  if (value === undefined || value === null) return 0
  return value instanceof Uint8Array ? value.byteLength : value.length()
}
