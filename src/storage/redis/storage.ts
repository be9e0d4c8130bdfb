import { ConfigurationError } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import type {
  BoundPolicy,
  ByteUsage,
  Bus,
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
import type { Connection, RedisClient } from './connection.js'
import { connect, preloadScripts, withTimeout } from './connection.js'
import { decodeEntryRef } from '../key-encoding.js'
import { RedisExecutor } from './executor.js'
import { RedisBus } from './bus.js'
import { EvictProgress, RedisEvictions } from './evict.js'
import { checkFence } from './fence.js'
import type { RedisWriteFence } from './fence.js'
import { checkPrefix, RedisKeys, scriptHeader, ttlArg } from './keys.js'
import { RedisLocks } from './lock.js'
import { TagRegistry } from './registry.js'
import type { RedisStorageOptions } from './options.js'
import { checkOptions } from './options.js'
import type { BatchedWrite, Notice } from './write.js'
import { packLabels, RedisLabels } from './labels.js'
import { RedisWrites } from './write.js'
import { DELETE, SCRIPTS } from './scripts.js'
import type { BulkHost } from './bulk.js'
import { deleteMany, writeMany } from './bulk.js'
import { RedisReads } from './reads.js'
import { RedisValueCodec } from './value-codec.js'

export type { RedisStorageOptions } from './options.js'

/** Turns a fulfilled value into `undefined` (a write resolves with nothing). */
const NOTHING = (): void => undefined

type Reporter = StorageContext['onEvicted']

/** What {@link redisInternals} hands out; set by RedisStorage's static block. */
interface RedisInternals {
  client(storage: RedisStorage): RedisClient
  evictScope(storage: RedisStorage, path: ScopePath, onBatch: (removedSoFar: number) => void): Promise<number>
}

let internals: RedisInternals

/**
 * A storage on Redis (standalone or Cluster) through ioredis, shared by every process that uses the
 * same prefix: keys are deterministic, so processes and machines see each other's entries.
 *
 * Design (key layout in `prelude.ts`):
 * - TTLs are native (`PXAT`, on the Redis server's clock): Redis expires entries itself.
 * - Reads and writes that start in the same turn of the event loop are coalesced (`batch.ts`, sent by
 *   `executor.ts`): their reads become one `MGET` (per tenant on a Cluster), their writes one script
 *   per tenant, in the order they started. This is what makes many concurrent operations cheap; with
 *   LRU bounds, reads and writes run one script each instead (the bounds need per-entry decisions).
 * - Every write, delete and scope eviction is one Lua script that keeps the data, the per-scope index
 *   ZSETs and the bound ZSETs consistent atomically. All keys of one top-level scope instance (one
 *   tenant) share a `{...}` hash tag, so those scripts run on a Cluster and `evictScope` costs
 *   O(entries in the scope): it reads one index, never `SCAN`/`KEYS`.
 * - `evictScope` removes at most 2000 entries per script call and repeats, so a huge scope never blocks
 *   Redis for long; each call is atomic, the whole eviction is not (a concurrent plain `set` may
 *   survive it). A computed write (`fence` before the computation, `setFenced` after) never survives
 *   an eviction that started after its fence, in any process: the first batch raises the scope's
 *   generation, which the fenced write script checks (`fence.ts`).
 * - `clear()` and `size()` walk the registry of tags (`prefix:tags`), one script per tag, on whichever
 *   master holds it: O(tenants) for `size()`, O(entries) for `clear()`; other keys of the database are
 *   never touched (no `FLUSHDB`). A tag that holds data is always registered, even when a connection
 *   drops mid-eviction, and a tag whose entries are all gone or expired leaves no key behind but its
 *   self-expiring eviction generations (`registry.ts`; the sweeper reclaims expired tags).
 * - Bounds live in Redis (ZSETs scored by an access or insertion sequence), so they hold across
 *   processes. A per-scope bound (`per: 'organization'`, `'user'`, ...) lives in its tenant's slot and
 *   is exact everywhere.
 * - A cache-wide bound is exact on a standalone Redis (enforced inside the write script). On a Cluster
 *   it spans slots, so it is enforced in a second step on its own slot right after the write (the
 *   victims are then deleted on their slots): exact after every operation of a single process, and
 *   eventually exact under concurrent writers (between the two steps of a write, one more entry per
 *   concurrent writer may exist). When the goal is only to bound memory, Redis's own
 *   `maxmemory-policy allkeys-lru` is the better tool, but note that Redis may then evict index keys
 *   as well, which makes `size()` approximate and lets `evictScope` miss the entries it lost track of.
 *
 * Faults: every command has a timeout (`commandTimeoutMs`) and no command waits in an offline queue:
 * while the first connection is being made, operations wait for it up to the timeout; once a
 * connection is lost, they reject at once until the client has reconnected on its own (the cache turns
 * that into a `StorageError`, and memoized calls fall back to calling the function at no extra cost).
 * A command sent to a server that stalls rejects after the timeout (see `executor.ts`).
 */
export class RedisStorage implements StorageProvider {
  readonly storageType = 'redis'
  readonly supportsBounds = true
  /** Byte budgets count the serialized value's byte length, in Redis, across processes. */
  readonly supportsByteBounds = true
  /** A bound has `maxBytes`: writes are checked and sizes kept (see `prelude.ts`). */
  #measuresBytes = false
  /** The key prefix of this cache. */
  readonly prefix: string
  /** The serializer in use. */
  readonly serializer: Serializer
  /** Values as bytes and back (the serializer, or its entry-bound side): see `value-codec.ts`. */
  readonly #codec: RedisValueCodec
  /** The ioredis client (created or given); internal, see {@link redisInternals}. */
  readonly #client: RedisClient
  /** Cross-process entry locks (`SET NX PX` in the entry's hash slot; see `lock.ts`). */
  readonly locks: EntryLocks
  readonly #connection: Connection
  /** Sends every command: connection wait, timeout, coalescing (see `executor.ts`). */
  readonly #x: RedisExecutor
  readonly #keys: RedisKeys
  readonly #timeoutMs: number
  readonly #isCluster: boolean
  readonly #registry: TagRegistry
  readonly #evictions: RedisEvictions
  readonly #writes: RedisWrites
  readonly #labels: RedisLabels
  /** What the bulk operations need (see `bulk.ts`). */
  readonly #bulk: BulkHost
  /** Every read (see `reads.ts`). */
  readonly #reads: RedisReads
  #bounds: readonly BoundPolicy[] = []
  #header: string[]
  /** A cache-wide bound exists and needs the second step (Cluster). */
  #clusterWide = false
  #onEvicted: Reporter = () => undefined
  #context: StorageContext | undefined
  /** Read at each report: the cache's need for evicted refs changes as listeners come and go. */
  get #wantsRefs(): boolean {
    return this.#context?.wantsEvictedRefs === true
  }
  #attached = false
  #sweeper: NodeJS.Timeout | undefined
  readonly #stopPreloading: () => void

  constructor(options: RedisStorageOptions) {
    const { timeout, maxBytes, serializer } = checkOptions(options)
    this.prefix = checkPrefix(options.prefix ?? 'cacheado')
    this.serializer = serializer
    this.#codec = new RedisValueCodec(serializer, maxBytes)
    this.#timeoutMs = timeout
    this.#keys = new RedisKeys(this.prefix)
    this.#connection = connect({ ...options, commandTimeoutMs: timeout })
    this.#client = this.#connection.client
    this.#x = new RedisExecutor({
      connection: this.#connection,
      timeoutMs: timeout,
      pipelineWhenBusy: this.#connection.owned && (options.autoPipelining ?? true),
      serializer,
      writeBatch: (writes) => this.#writes.writeBatch(writes),
    })
    this.#isCluster = this.#client.isCluster
    this.#header = scriptHeader(this.prefix, this.#isCluster, this.#bounds)
    this.#stopPreloading = preloadScripts(this.#client, SCRIPTS)
    const timed = this.#x.timed
    this.#registry = new TagRegistry(this.#client, this.#keys, timed)
    const report: Reporter = (reason, count, ref) => this.#onEvicted(reason, count, ref)
    // What the parts below need of this storage (read at each call: bounds come with `attach`).
    const host = {
      client: this.#client,
      keys: this.#keys,
      registry: this.#registry,
      isCluster: this.#isCluster,
      serializer,
      timed,
      header: () => this.#header,
      bounds: () => this.#bounds,
      measuresBytes: () => this.#measuresBytes,
      clusterWide: () => this.#clusterWide,
      report,
      wantsRefs: () => this.#wantsRefs,
      entryBound: this.#codec.entry !== undefined,
      decode: (bytes: Buffer, member: string) => this.#codec.decode(bytes, decodeEntryRef(member)),
    }
    const evictions = new RedisEvictions(host)
    this.#evictions = evictions
    this.#writes = new RedisWrites({ ...host, evictions, channel: this.#channel })
    this.#labels = new RedisLabels({ ...host, evictions, channel: this.#channel })
    this.#bulk = { ...host, evictions, writes: this.#writes }
    this.#reads = new RedisReads({ ...host, x: this.#x, codec: this.#codec, bulk: this.#bulk })
    this.locks = new RedisLocks(this.#client, this.#keys, (command) => this.#x.exec(() => timed(command())))
  }

  attach(context: StorageContext): void {
    if (this.#attached) {
      throw new ConfigurationError(
        'this RedisStorage already belongs to a Cache; give each Cache its own storage',
      )
    }
    this.#attached = true
    this.#bounds = context.bounds
    this.#measuresBytes = context.bounds.some((b) => b.maxBytes !== undefined)
    this.#onEvicted = context.onEvicted
    this.#context = context
    const wide = context.bounds.filter((b) => b.per === undefined)
    this.#clusterWide = this.#isCluster && wide.length !== 0
    this.#reads.configure(context.bounds)
    this.#header = scriptHeader(this.prefix, this.#isCluster, this.#bounds)
    if (context.bounds.length !== 0) {
      // Advisory (see RedisKeys.bounds): a failure here costs nothing but that copy.
      const record = JSON.stringify(context.bounds)
      this.#x.exec(() => this.#x.timed(this.#client.set(this.#keys.bounds, record))).catch(() => undefined)
    }
    if (context.sweepIntervalMs !== undefined) {
      this.#sweeper = setInterval(() => {
        if (this.#x.closed || this.#client.status !== 'ready') return
        this.#evictions.sweep().catch(() => undefined)
      }, context.sweepIntervalMs)
      this.#sweeper.unref()
    }
  }

  get(ref: EntryRef): Promise<unknown> {
    return this.#reads.get(ref)
  }

  /** The live entries stored directly in `path` (see `StorageProvider.list` and `reads.ts`). */
  list(path: ScopePath): Promise<ReadonlyArray<readonly [string, unknown]>> {
    return this.#reads.list(path)
  }

  /**
   * The value with its expiry, in one script (GET + PTTL, and the LRU touch when a bound needs it; see
   * `reads.ts`). The expiry is computed from the time the request was sent, so it is never later than
   * the real one.
   */
  getWithExpiry(ref: EntryRef): Promise<StoredEntry | Miss> {
    return this.#reads.getWithExpiry(ref)
  }

  /**
   * The values of `refs` (see `reads.ts` and `bulk.ts`): one `MGET` for all of them on a standalone
   * Redis, one per tenant on a Cluster, sent at once. Under an LRU bound each ref is read with the
   * touching script instead (all sent at once too), so that every hit counts as a use.
   */
  getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    return this.#reads.getMany(refs)
  }

  /**
   * The entries of `refs` with their expiries (see `reads.ts` and `bulk.ts`): one script for all of them
   * on a standalone Redis, one per tenant on a Cluster, sent at once. Under an LRU bound each ref is read
   * with the touching script instead, so that every hit counts as a use.
   */
  getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    return this.#reads.getManyWithExpiry(refs)
  }

  /**
   * Every write, values encoded and checked before anything is sent: without bounds one batch script
   * per tenant (sent at once); with bounds one write script each (the bounds decide per entry).
   */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    const values =
      this.#codec.entry === undefined
        ? undefined
        : await Promise.all(writes.map(({ ref, value }) => this.#codec.encode(ref, value)))
    const encoded = writes.map(({ ref, value, ttlMs }, i) => {
      const member = this.#keys.member(ref)
      const keys = this.#keys.writeKeys(member)
      const bytes = values?.[i] ?? this.#codec.encodePlain(value)
      // No labels: a bulk write replaces the entry, tags included (see labels.ts).
      const labels = ''
      return { group: this.#keys.tagOfMember(member), member, bytes, ttl: ttlArg(ttlMs), keys, labels }
    })
    if (this.#bounds.length === 0) return this.#x.exec(() => writeMany(this.#bulk, encoded))
    await Promise.all(
      encoded.map((w) =>
        this.#x.exec(() => this.#writes.write(w.member, w.bytes, w.ttl, undefined, undefined, w.labels)),
      ),
    )
  }

  /** Removes every ref (not repeated) with one script per tenant, sent at once (see `bulk.ts`). */
  async deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    const members = refs.map((ref) => this.#keys.member(ref))
    return this.#x.exec(() => deleteMany(this.#bulk, members))
  }

  /** A {@link RedisBus} on this storage's client, on the channel `<prefix>:bus`. */
  createBus(): Bus {
    return new RedisBus({ client: this.#client, channel: this.#channel, timeoutMs: this.#timeoutMs })
  }

  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    if (this.#bounds.length !== 0) return this.#write(ref, value, ttlMs, options, undefined).then(NOTHING)
    let bytes: Buffer | Promise<Buffer>
    try {
      bytes = this.#codec.encode(ref, value)
    } catch (error) {
      return Promise.reject(error)
    }
    // An asynchronous key provider: sent once encrypted (a tenant's writes keep their order, see keys.ts).
    if (bytes instanceof Promise) return bytes.then((b) => this.#setBytes(ref, b, ttlMs, options))
    return this.#setBytes(ref, bytes, ttlMs, options)
  }

  /** The coalesced write of `set` (no bounds), once the value is encoded. */
  #setBytes(ref: EntryRef, bytes: Buffer, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    let write: BatchedWrite
    try {
      const labels = packLabels(options)
      const member = this.#keys.member(ref)
      write = {
        group: this.#keys.tagOfMember(member),
        member,
        bytes,
        ttl: ttlArg(ttlMs),
        keys: this.#keys.writeKeys(member),
        labels,
      }
    } catch (error) {
      // Refused before anything is written (too large, not serializable, a TTL out of range); the
      // writes coalesced with it in this tick are not affected.
      return Promise.reject(error)
    }
    // Sequential use: a batch of one at once, as for a lone read.
    if (this.#x.startAlone()) return this.#x.writeAlone(write)
    // Otherwise coalesced with the writes of this tick.
    return this.#x.write(write).then(NOTHING)
  }

  /** `set`, publishing `message` on the channel of {@link RedisStorage.createBus} from the write script. */
  setAndPublish(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    message: BusMessage,
    options?: WriteOptions,
  ): Promise<void> {
    return this.#write(ref, value, ttlMs, options, this.#writes.notice(message)).then(NOTHING)
  }

  /**
   * A snapshot of the evictions covering `ref` (see `fence.ts`): one script on the tag's slot
   * (standalone: it reads the cache-wide generation too; Cluster: a GET on the registry's slot, sent
   * at the same time).
   */
  fence(ref: EntryRef): Promise<WriteFence> {
    let member: string
    try {
      member = this.#keys.member(ref)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#x.exec(() => this.#writes.fence(member))
  }

  /**
   * `set`, only if no eviction covering `ref` was applied since `fence` was taken (and the fence is
   * younger than 10 minutes); resolves whether it stored. `message` is published only if it stored.
   */
  async setFenced(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
    message?: BusMessage,
    options?: WriteOptions,
  ): Promise<boolean> {
    const member = this.#keys.member(ref)
    const ours = checkFence(fence, member)
    if (ours === undefined) return false // a fence of another entry guards nothing of this one
    const notice = message === undefined ? undefined : this.#writes.notice(message)
    return this.#write(ref, value, ttlMs, options, notice, ours)
  }

  /**
   * A write that runs its own script (see {@link RedisWrites.write}); arguments are checked and
   * encoded before anything is sent.
   */
  async #write(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    options: WriteOptions | undefined,
    notice: Notice | undefined,
    fence?: RedisWriteFence,
  ): Promise<boolean> {
    const ttl = ttlArg(ttlMs)
    const labels = packLabels(options)
    const encoded = this.#codec.encode(ref, value)
    const bytes = encoded instanceof Promise ? await encoded : encoded
    const member = this.#keys.member(ref)
    return this.#x.exec(() => this.#writes.write(member, bytes, ttl, notice, fence, labels))
  }

  get #channel(): string {
    return `${this.prefix}:bus`
  }

  async delete(ref: EntryRef): Promise<boolean> {
    const member = this.#keys.member(ref)
    return this.#x.exec(async () => {
      const [existed, stale, gone, creation] = (await this.#x.timed(
        DELETE.run(this.#client, [this.#keys.data(member)], [...this.#header, member]),
      )) as [number, number, number, string]
      if (gone === 1) await this.#registry.release(this.#keys.tagOfMember(member), String(creation))
      if (stale === 1) this.#onEvicted('expired', 1, this.#wantsRefs ? ref : undefined)
      if (this.#clusterWide && (existed === 1 || stale === 1))
        await this.#evictions.admitWide([member], '', '', false)
      return existed === 1
    })
  }

  /**
   * Removes every entry at or under `path`, in batches of up to 2000 entries (one script each, so a huge
   * scope never blocks Redis for long), after raising the scope's write fence.
   */
  async evictScope(path: ScopePath): Promise<number> {
    return this.#x.exec(() => this.#evictions.evictScope(path, new EvictProgress(undefined)))
  }

  static {
    internals = {
      client: (storage) => storage.#client,
      evictScope: (storage, path, onBatch) =>
        storage.#x.exec(() => storage.#evictions.evictScope(path, new EvictProgress(onBatch))),
    }
  }

  /**
   * Removes the entries at or under `path` carrying any of `tags` (see `labels.ts`): one script per
   * batch on the tenant's slot for a scoped invalidation, one per registered tenant for `[]`. Raises
   * the scope's eviction generation first, as `evictScope` does, so fenced writes taken before fail.
   */
  async invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    return this.#x.exec(() => this.#labels.invalidate(tags, path))
  }

  /**
   * {@link RedisStorage.invalidateTags}, then `message` on the channel of {@link RedisStorage.createBus}:
   * a scoped invalidation publishes it from its last script (one command for both), a cache-wide one
   * once every tenant is done.
   */
  async invalidateTagsAndPublish(
    tags: readonly string[],
    path: ScopePath,
    message: BusMessage,
  ): Promise<number> {
    if (path.length !== 0) return this.#x.exec(() => this.#labels.invalidate(tags, path, message))
    const removed = await this.invalidateTags(tags, path)
    await this.createBus().publish(message)
    return removed
  }

  async size(): Promise<number> {
    return this.#x.exec(() => this.#evictions.size())
  }

  /** Bytes in total and per tenant under byte budgets (`undefined` without one): one GET per tenant. */
  async byteUsage(topN: number): Promise<ByteUsage | undefined> {
    if (!this.#measuresBytes) return undefined
    return this.#x.exec(() => this.#evictions.byteUsage(topN))
  }

  async close(): Promise<void> {
    if (this.#x.closed) return
    this.#x.close()
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#stopPreloading()
    if (!this.#connection.owned) return
    try {
      await withTimeout(this.#client.quit(), this.#timeoutMs)
    } catch {
      this.#client.disconnect()
    }
  }
}

/**
 * Internal access to a {@link RedisStorage}, for the operator CLI (`admin.ts`) and the tests; not
 * exported by `cacheado/redis`, so neither is part of the public API.
 * - `client(storage)`: the ioredis client the storage created or was given.
 * - `evictScope(storage, path, onBatch)`: `storage.evictScope(path)` calling `onBatch` after every
 *   batch with the number of entries removed so far (the CLI's progress bar).
 */
export const redisInternals: RedisInternals = {
  client: (storage) => internals.client(storage),
  evictScope: (storage, path, onBatch) => internals.evictScope(storage, path, onBatch),
}
