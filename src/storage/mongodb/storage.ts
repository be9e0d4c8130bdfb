import { debuglog } from 'node:util'
import type { Collection } from 'mongodb'
import { MongoClient } from 'mongodb'
import { ConfigurationError } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import { MsgpackSerializer } from '../../serializers/msgpack.js'
import type {
  BoundPolicy,
  ByteUsage,
  BusMessage,
  EntryLocks,
  EntryRef,
  EntryWrite,
  Miss,
  ScopePath,
  StorageContext,
  StorageProvider,
  StoredEntry,
  WriteFence,
  WriteOptions,
} from '../contract.js'
import { MISS } from '../contract.js'
import { decodeEntryRef, encodeEntryRef, encodeScopePath } from '../key-encoding.js'
import type { BoundEvictionReport } from './bounds.js'
import { bulkUpsert, bytesOf, deleteIn, findMany, upserts, WRITE_CHUNK } from './bulk.js'
import { enforceBounds, tenantBytes } from './bounds.js'
import { checkEntryFits } from '../byte-budget.js'
import type { EntryDocument } from './document.js'
import {
  isExpired,
  nextTick,
  nodeFilter,
  scopeKeys,
  subtreeFilter,
  upsertOne,
  visibleFilter,
} from './document.js'
import { MongoFences } from './fence.js'
import type { LockDocument } from './lock.js'
import { MongoLocks } from './lock.js'
import type { TtlSupport } from './indexes.js'
import type { PreparedWrite } from './prepare.js'
import { prepareWrite } from './prepare.js'
import { decodeEntry, encodeEntry, entrySerializerOf, settleEntries } from '../entry-codec.js'
import type { EntryBoundSerializer } from '../entry-codec.js'
import { reclaimExpired, reportEvictions } from './reclaim.js'
import type { Ordering } from './run.js'
import { MongoRunner, UNORDERED } from './run.js'
import { tagFields, tagsFilter } from './tags.js'
import type { MongoDBStorageOptions } from './options.js'
import { positiveMs } from './options.js'

export type { MongoDBStorageOptions } from './options.js'
export { MAX_DOCUMENT_BYTES, MAX_TTL_MS, MongoDBTimeoutError } from './options.js'

const DEFAULT_SWEEP_MS = 60_000
const DEFAULT_TIMEOUT_MS = 1000

const debug = debuglog('cacheado')

/**
 * A storage in a MongoDB collection (MongoDB 6+ or a server speaking its wire protocol), shared by
 * every process that uses the same collection.
 *
 * - One document per entry (layout in `document.ts`); `evictScope` is one `deleteMany` on an
 *   `_id` range (served by the `_id` index on MongoDB; FerretDB 1.x serves only `{ _id: string }`
 *   from an index and scans for any other filter), `clear()` empties this collection only.
 * - Write fences (`fence` / `setFenced`, protocol in `fence.ts`): `evictScope` records a new
 *   generation of its path in `<collectionName>.fences` before deleting, and a fenced write stores
 *   nothing when a generation covering it changed since its fence, in whichever process evicted.
 *   A fenced write in flight holds its value in `pending`, invisible to reads, `size()` and `delete`.
 * - Expiry is exact: a read never returns a document whose `expiresAt` has passed (it deletes it and
 *   reports it), `size()` deletes expired documents and counts only live ones, one unref'd sweeper
 *   deletes expired documents and reports them, and a TTL index is created where the server supports
 *   it (where it refuses, that is noted once, under `NODE_DEBUG=cacheado`).
 * - Within one process, operations on one key take effect in the order they were issued, although the
 *   driver's connection pool could reorder their replies (see `PerKeyOrder`, used by `run.ts`).
 * - Bounds live in the database (`createdAt` / `accessedAt`, indexed per group), so they hold across
 *   processes. One writer: every bound holds when each write resolves. Concurrent writers (MongoDB has
 *   no multi-document atomicity without transactions): a group may exceed its bound by at most the
 *   writes in flight, and holds again when they have resolved; evictions are counted once, by the
 *   process that deleted them (measured in the tests: bound 20, three processes, at most 23 seen).
 *   Bounds are identified by their scope level, not their position, see `enforceBounds`.
 * - Every operation rejects within `operationTimeoutMs` when the server is unreachable, and works again
 *   once it is back (the driver reconnects).
 */
export class MongoDBStorage implements StorageProvider {
  readonly storageType = 'mongodb'
  readonly supportsBounds = true
  /** Byte budgets count the serialized value's byte length, in the database, across processes. */
  readonly supportsByteBounds = true
  /** How values become bytes. */
  readonly serializer: Serializer
  /** The serializer's entry-bound side (per-tenant encryption), when it has one: see `entry-codec.ts`. */
  readonly #entry: EntryBoundSerializer | undefined
  /** Per-operation timeout in milliseconds. */
  readonly operationTimeoutMs: number
  /**
   * Cross-process entry locks, in the collection `<collectionName>.locks` next to the entries (see
   * `lock.ts`). Absent when the storage was given a `collection` whose client is unknown.
   */
  readonly locks?: EntryLocks
  /**
   * Write fences (see `StorageProvider.fence` and `fence.ts`), in the collection
   * `<collectionName>.fences`. Absent, with {@link setFenced}, when the storage was given a
   * `collection` whose client is unknown.
   */
  readonly fence?: (ref: EntryRef) => Promise<WriteFence>
  /** See `StorageProvider.setFenced`; `message` is ignored (MongoDB has no bus). */
  readonly setFenced?: (
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
    message?: BusMessage,
    options?: WriteOptions,
  ) => Promise<boolean>
  readonly #fences: MongoFences | undefined
  readonly #collection: Collection<EntryDocument>
  /** The client this storage created and must close; undefined when the user supplied it. */
  readonly #ownClient: MongoClient | undefined
  readonly #sweepIntervalMs: number
  #context: StorageContext | undefined
  #bounds: readonly BoundPolicy[] = []
  #touchOnRead = false
  /** Runs every operation: indexes first, per-key order, timeout (see `run.ts`). */
  readonly #runner: MongoRunner
  #sweeper: NodeJS.Timeout | undefined
  #sweeping = false

  constructor(options: MongoDBStorageOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError(
        "new MongoDBStorage(options) expects { url: 'mongodb://...' }, { client } or { collection }",
      )
    }
    const given = (['url', 'client', 'collection'] as const).filter((name) => options[name] !== undefined)
    if (given.length !== 1) {
      throw new ConfigurationError(
        `MongoDBStorage needs exactly one of url, client or collection, got ${given.length ? given.join(' and ') : 'none'}`,
      )
    }
    this.operationTimeoutMs = positiveMs(
      'operationTimeoutMs',
      options.operationTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    )
    this.#sweepIntervalMs = positiveMs('sweepIntervalMs', options.sweepIntervalMs ?? DEFAULT_SWEEP_MS)
    this.serializer = options.serializer ?? new MsgpackSerializer()
    this.#entry = entrySerializerOf(this.serializer)
    if (
      typeof this.serializer.serialize !== 'function' ||
      typeof this.serializer.deserialize !== 'function'
    ) {
      throw new ConfigurationError(
        'the serializer option must implement Serializer (serialize and deserialize)',
      )
    }
    const dbName = options.dbName ?? 'cacheado'
    const collectionName = options.collectionName ?? 'cache'
    if (options.collection !== undefined) {
      this.#collection = options.collection as unknown as Collection<EntryDocument>
    } else {
      let client = options.client
      if (client === undefined) {
        if (typeof options.url !== 'string')
          throw new ConfigurationError('MongoDBStorage: url must be a connection string')
        const t = this.operationTimeoutMs
        client = new MongoClient(options.url, {
          serverSelectionTimeoutMS: t,
          connectTimeoutMS: t,
          socketTimeoutMS: Math.max(t, 1000),
          ...options.clientOptions,
        })
        this.#ownClient = client
      }
      this.#collection = client.db(dbName).collection<EntryDocument>(collectionName)
    }
    this.#runner = new MongoRunner(this.#collection, this.operationTimeoutMs, () => this.#bounds)
    // (A given collection's client is not in the driver's public types: used when present.)
    const client = options.client ?? this.#ownClient ?? (this.#collection as { client?: MongoClient }).client
    if (client instanceof MongoClient) {
      const locks = client
        .db(this.#collection.dbName)
        .collection<LockDocument>(`${this.#collection.collectionName}.locks`)
      this.locks = new MongoLocks(locks, (operation, work) => this.#run(operation, UNORDERED, work))
      const fences = new MongoFences(client.db(this.#collection.dbName), this.#collection.collectionName)
      this.#fences = fences
      this.fence = (ref) => this.#run('fence', UNORDERED, () => fences.take(ref))
      this.setFenced = async (ref, value, ttlMs, fence, _message, options) => {
        // Everything that can refuse the value runs before the first byte is sent.
        const prepared = this.#prepare(ref, value, ttlMs, options)
        const write = prepared instanceof Promise ? await prepared : prepared
        return this.#run('setFenced', { write: write.id }, async (collection) => {
          const stored = await fences.setFenced(collection, write, fence)
          if (stored) await this.#enforce(collection, ref.scope, write.id)
          return stored
        })
      }
    }
  }

  /** The collection the entries live in (one document per entry, see `EntryDocument`). */
  get collection(): Collection<EntryDocument> {
    return this.#collection
  }

  /** Whether the server accepted the TTL index (`'ttl-index'`); undefined until the first operation. */
  get ttlIndex(): TtlSupport | undefined {
    return this.#runner.ttl
  }

  attach(context: StorageContext): void {
    if (this.#context !== undefined) {
      throw new ConfigurationError(
        'this MongoDBStorage already belongs to a Cache; give each Cache its own storage',
      )
    }
    this.#context = context
    this.#bounds = context.bounds
    this.#touchOnRead = context.bounds.some((bound) => bound.order === 'lru')
    this.#sweeper = setInterval(() => this.#sweep(), context.sweepIntervalMs ?? this.#sweepIntervalMs)
    this.#sweeper.unref()
  }

  async get(ref: EntryRef): Promise<unknown> {
    const found = await this.#lookup(ref)
    return found === MISS ? MISS : found.value
  }

  /** The value with its expiry (the document's `expiresAt`), in the same one lookup as `get`. */
  getWithExpiry(ref: EntryRef): Promise<StoredEntry | Miss> {
    return this.#lookup(ref)
  }

  #lookup(ref: EntryRef): Promise<StoredEntry | Miss> {
    const id = encodeEntryRef(ref)
    return this.#run('get', { read: id }, async (collection) => {
      // A point lookup by _id, with the expiry filter applied to the one document it finds: the same
      // answer as `{ _id, expiresAt > now }`, and the plainest query for any server's _id index.
      // (findOneAndUpdate without a projection: not every MongoDB-wire server supports one there.)
      const doc = this.#touchOnRead
        ? await collection.findOneAndUpdate({ _id: id }, { $set: { accessedAt: nextTick() } })
        : await collection.findOne({ _id: id }, { projection: { v: 1, expiresAt: 1 } })
      // No `v`: a fenced write not committed yet (see fence.ts), invisible to readers.
      if (doc === null || doc.v === undefined) return MISS
      if (!isExpired(doc.expiresAt, Date.now())) {
        const expiresAt = doc.expiresAt instanceof Date ? doc.expiresAt.getTime() : undefined
        if (this.#entry === undefined)
          return { value: this.serializer.deserialize(bytesOf(doc.v)), expiresAt }
        const value = await decodeEntry(this.#entry, bytesOf(doc.v), ref)
        return value === MISS ? MISS : { value, expiresAt }
      }
      // Expired: delete it unless it was rewritten meanwhile (then its expiresAt differs).
      const { deletedCount } = await collection.deleteOne({ _id: id, expiresAt: doc.expiresAt })
      if (deletedCount === 1) this.#report('expired', 1, [id])
      return MISS
    })
  }

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    // Everything that can refuse the value runs before the first byte is sent.
    const prepared = this.#prepare(ref, value, ttlMs, options)
    // An asynchronous key provider: stored once encrypted (a tenant's writes keep their order, see keys.ts).
    return prepared instanceof Promise
      ? prepared.then((p) => this.#store(ref, p))
      : this.#store(ref, prepared)
  }

  /**
   * The entries of `refs` with their expiries, in one `find({ _id: { $in } })` (FerretDB 1.x scans the
   * collection for it, see the class comment); expired documents found are deleted and reported. Under
   * an LRU bound each ref is read (and marked used) on its own instead, all at once.
   */
  getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    if (this.#touchOnRead) return Promise.all(refs.map((ref) => this.#lookup(ref)))
    const ids = refs.map((ref) => encodeEntryRef(ref))
    const entry = this.#entry
    const deserialize =
      entry === undefined
        ? (bytes: Uint8Array) => this.serializer.deserialize(bytes)
        : (bytes: Uint8Array, id: string) => decodeEntry(entry, bytes, decodeEntryRef(id))
    const read = async (collection: Collection<EntryDocument>) => {
      const { found: decoded, expired } = await findMany(collection, ids, deserialize)
      const found = entry === undefined ? decoded : await settleEntries(decoded)
      for (const [id, expiresAt] of expired) {
        // Unless it was rewritten meanwhile (then its expiresAt differs).
        const { deletedCount } = await collection.deleteOne({ _id: id, expiresAt })
        if (deletedCount === 1) this.#report('expired', 1, [id])
      }
      return found
    }
    return this.#run('getMany', { reads: ids }, read, ids.length)
  }

  /** The values of `refs` (the one `find` of {@link MongoDBStorage.getManyWithExpiry}). */
  async getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    return (await this.getManyWithExpiry(refs)).map((entry) => (entry === MISS ? MISS : entry.value))
  }

  /**
   * Every write, all checked and encoded before the first is sent, then ordered `bulkWrite`s of
   * upserts, {@link WRITE_CHUNK} at a time (later writes of a ref win), then the bounds of each scope
   * written, once: they hold when it resolves.
   */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    if (writes.length === 0) return
    const preparing = writes.map(({ ref, value, ttlMs }) => this.#prepare(ref, value, ttlMs))
    const prepared = this.#entry === undefined ? (preparing as PreparedWrite[]) : await Promise.all(preparing)
    const ids = [...new Set(prepared.map((write) => write.id))]
    const operations = upserts(prepared)
    // Chunks of WRITE_CHUNK upserts, one after the other, each within its timeout.
    for (let start = 0; start < operations.length; start += WRITE_CHUNK) {
      const chunk = operations.slice(start, start + WRITE_CHUNK)
      await this.#run('setMany', { writes: ids }, (collection) => bulkUpsert(collection, chunk), chunk.length)
    }
    if (this.#bounds.length === 0) return
    const scopes = new Map(prepared.map((write) => [encodeScopePath(write.ref.scope), write.ref.scope]))
    const enforce = async (collection: Collection<EntryDocument>) => {
      for (const scope of scopes.values()) await this.#enforce(collection, scope)
    }
    await this.#run('setMany', { writes: ids }, enforce, scopes.size)
  }

  /** Upserts a prepared write, then enforces the bounds. */
  #store(ref: EntryRef, prepared: PreparedWrite): Promise<void> {
    const { id, v, b, expiresAt, tick, tags } = prepared
    const fields = { v, b, expiresAt, scopes: scopeKeys(ref.scope), accessedAt: tick }
    const [withTags, unset] = tagFields(fields, tags, { pending: '' })
    return this.#run('set', { write: id }, async (collection) => {
      // (`pending`: fenced writes of other processes still in flight give up, see fence.ts.)
      await upsertOne(
        collection,
        { _id: id },
        { $set: withTags, $setOnInsert: { createdAt: tick }, $unset: unset },
      )
      await this.#enforce(collection, ref.scope, id)
    })
  }

  /** Enforces the bounds `scope` falls under, if any (see `bounds.ts`): they hold when it resolves. */
  async #enforce(collection: Collection<EntryDocument>, scope: ScopePath, written?: string): Promise<void> {
    if (this.#bounds.length === 0) return
    await enforceBounds(
      collection,
      this.#bounds,
      scope,
      this.#reportBound,
      (filter) => reclaimExpired(collection, filter, this.#context),
      written,
    )
  }

  /** Checks and encodes a write before anything is sent (see `prepare.ts`), and its byte budgets. */
  #prepare(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    options?: WriteOptions,
  ): PreparedWrite | Promise<PreparedWrite> {
    const fits = (prepared: PreparedWrite) => {
      checkEntryFits(this.#bounds, ref.scope, prepared.b)
      return prepared
    }
    if (this.#entry === undefined) return fits(prepareWrite(this.serializer, ref, value, ttlMs, options))
    const bytes = encodeEntry(this.#entry, value, ref)
    const prepare = (b: Uint8Array) => fits(prepareWrite(this.serializer, ref, value, ttlMs, options, b))
    return bytes instanceof Promise ? bytes.then(prepare) : prepare(bytes)
  }

  /** Bytes in total and per tenant under byte budgets (`undefined` without one); see `bounds.ts`. */
  async byteUsage(topN: number): Promise<ByteUsage | undefined> {
    if (!this.#bounds.some((b) => b.maxBytes !== undefined)) return undefined
    return this.#run('stats', UNORDERED, (collection) => tenantBytes(collection, topN))
  }

  delete(ref: EntryRef): Promise<boolean> {
    const id = encodeEntryRef(ref)
    return this.#run('delete', { write: id }, async (collection) => {
      const doc = await collection.findOneAndDelete({ _id: id })
      if (doc === null || doc.v === undefined) return false
      if (!isExpired(doc.expiresAt, Date.now())) return true
      this.#report('expired', 1, [id])
      return false
    })
  }

  /**
   * Removes every ref (none repeated): one `find` of those that are live, then one `deleteMany` of
   * them all. A document another process writes between the two is removed but not counted.
   */
  deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    const ids = refs.map((ref) => encodeEntryRef(ref))
    const remove = async (collection: Collection<EntryDocument>) => {
      const { live, expired } = await deleteIn(collection, ids)
      if (expired.length !== 0) this.#report('expired', expired.length, expired)
      return ids.map((id) => live.has(id))
    }
    return this.#run('deleteMany', { writes: ids }, remove, ids.length)
  }

  /**
   * Records a new generation of `path` (write fences), then one `deleteMany` on the `_id` range of the
   * subtree (`[]`: every document of this collection, nothing else).
   * Expired documents the sweeper has not reached yet go too and are part of the count, as on the
   * in-memory storage: they are removed by this call, and they were never returned by a read.
   */
  evictScope(path: ScopePath): Promise<number> {
    return this.#run('evictScope', UNORDERED, async (collection) => {
      // The generation first, then the documents: see fence.ts for why this order.
      await this.#fences?.bump(path)
      const { deletedCount } = await collection.deleteMany(path.length === 0 ? {} : subtreeFilter(path))
      return deletedCount
    })
  }

  /** The live entries stored directly in `path` (see `StorageProvider.list`); one query. */
  list(path: ScopePath): Promise<ReadonlyArray<readonly [string, unknown]>> {
    return this.#run('list', UNORDERED, async (collection) => {
      const now = Date.now()
      const docs = await collection.find(nodeFilter(path), { projection: { v: 1, expiresAt: 1 } }).toArray()
      // No `v`: a fenced write not committed yet (see fence.ts), invisible to readers.
      const live = docs.filter((doc) => doc.v !== undefined && !isExpired(doc.expiresAt, now))
      const entry = this.#entry
      if (entry === undefined) {
        return live.map(
          (doc) => [decodeEntryRef(doc._id).key, this.serializer.deserialize(bytesOf(doc.v))] as const,
        )
      }
      const listed = await Promise.all(
        live.map(async (doc) => {
          const ref = decodeEntryRef(doc._id)
          return [ref.key, await decodeEntry(entry, bytesOf(doc.v), ref)] as const
        }),
      )
      // Values the serializer cannot read any more (a dropped key) are not listed.
      return listed.filter(([, value]) => value !== MISS)
    })
  }

  /**
   * Records a new generation of `path` (write fences, as `evictScope` does), then one `deleteMany` on
   * the `_id` range of the subtree and the indexed `tags` array (see `tags.ts`). The count may include
   * expired documents not reclaimed yet, as `evictScope`'s does.
   */
  invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    return this.#run('invalidateTags', UNORDERED, async (collection) => {
      await this.#fences?.bump(path)
      const { deletedCount } = await collection.deleteMany(tagsFilter(tags, path))
      return deletedCount
    })
  }

  size(): Promise<number> {
    return this.#run('size', UNORDERED, async (collection) => {
      await reclaimExpired(collection, {}, this.#context)
      return collection.countDocuments(visibleFilter(new Date()))
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    if (this.#ownClient !== undefined) await this.#ownClient.close()
  }

  /** Runs one operation (see {@link MongoRunner.run}). */
  #run<T>(
    operation: string,
    order: Ordering,
    work: (collection: Collection<EntryDocument>) => Promise<T>,
    entries = 1,
  ): Promise<T> {
    return this.#runner.run(operation, order, work, entries)
  }

  /** One sweep at a time; a failed sweep (server down) is skipped and retried at the next tick. */
  #sweep(): void {
    if (this.#sweeping) return
    this.#sweeping = true
    this.#run('sweep', UNORDERED, async (collection) => {
      await reclaimExpired(collection, {}, this.#context)
      await this.#fences?.sweep()
    })
      .catch((error: unknown) =>
        debug('mongodb sweep failed: %s', error instanceof Error ? error.message : String(error)),
      )
      .finally(() => {
        this.#sweeping = false
      })
  }

  readonly #reportBound: BoundEvictionReport = (reason, deleted, ids) => this.#report(reason, deleted, ids)

  /** Reports `count` automatic evictions (see `reclaim.ts`). */
  #report(reason: 'expired' | 'lru' | 'maxItems', count: number, ids: readonly string[]): void {
    reportEvictions(this.#context, reason, count, ids)
  }
}
