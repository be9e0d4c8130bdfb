import { ConfigurationError, SerializationError, storageTimeout } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import type {
  BoundPolicy,
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
import { MISS } from '../contract.js'
import { escapeComponent } from '../key-encoding.js'
import type { Connection, RedisClient } from './connection.js'
import { connect, preloadScripts, ReadyWait, withTimeout } from './connection.js'
import type { QueuedOp } from './batch.js'
import { groupRun, OpQueue } from './batch.js'
import { Deadlines } from './deadlines.js'
import { RedisBus } from './bus.js'
import { EvictProgress, RedisEvictions } from './evict.js'
import { checkFence } from './fence.js'
import type { RedisWriteFence } from './fence.js'
import { boundId, checkPrefix, RedisKeys, ttlArg } from './keys.js'
import { listScope } from './list.js'
import { RedisLocks } from './lock.js'
import { TagRegistry } from './registry.js'
import type { RedisStorageOptions } from './options.js'
import { checkOptions } from './options.js'
import type { BatchedWrite, Notice } from './write.js'
import { packLabels, RedisLabels } from './labels.js'
import { RedisWrites } from './write.js'
import { DELETE, GET_TTL, SCRIPTS, TOUCH, TOUCH_TTL, WIDE_TOUCH } from './scripts.js'
import type { BulkHost } from './bulk.js'
import { deleteMany, readMany, readValues, writeMany } from './bulk.js'

export type { RedisStorageOptions } from './options.js'

/** At most this many coalesced reads per `MGET`, or writes per batch script. */
const COALESCE_LIMIT = 256
/** Turns a fulfilled value into `undefined` (a write resolves with nothing). */
const NOTHING = (): void => undefined

/** A read or write waiting in the coalescing queue; `group` is its hash-slot group. */
type Coalesced = { readonly group: string; readonly data: string } | BatchedWrite
type CoalescedOp = QueuedOp<'read' | 'write', Coalesced>

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
 * - Reads and writes that start in the same turn of the event loop are coalesced (`batch.ts`):
 *   their reads become one `MGET` (per tenant on a Cluster), their writes one script per tenant, in the
 *   order they started. This is what makes many concurrent operations cheap; with LRU bounds, reads
 *   and writes run one script each instead (the bounds need per-entry decisions).
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
 * A command sent to a server that stalls rejects after the timeout.
 */
export class RedisStorage implements StorageProvider {
  readonly storageType = 'redis'
  readonly supportsBounds = true
  /** The key prefix of this cache. */
  readonly prefix: string
  /** The serializer in use. */
  readonly serializer: Serializer
  /** The ioredis client (created or given); internal, see {@link redisInternals}. */
  readonly #client: RedisClient
  /** Cross-process entry locks (`SET NX PX` in the entry's hash slot; see `lock.ts`). */
  readonly locks: EntryLocks
  readonly #connection: Connection
  readonly #keys: RedisKeys
  readonly #timeoutMs: number
  readonly #deadlines: Deadlines
  readonly #maxValueBytes: number
  readonly #isCluster: boolean
  readonly #registry: TagRegistry
  readonly #evictions: RedisEvictions
  readonly #writes: RedisWrites
  readonly #labels: RedisLabels
  #bounds: readonly BoundPolicy[] = []
  #header: string[]
  /** A cache-wide bound exists and needs the second step (Cluster). */
  #clusterWide = false
  /** An LRU bound is handled by the tag scripts: reads must run the touch script. */
  #touchInScript = false
  /** A cache-wide LRU bound on a Cluster: hits are touched on the bounds' slot too. */
  #touchWide = false
  #onEvicted: Reporter = () => undefined
  #context: StorageContext | undefined
  /** Read at each report: the cache's need for evicted refs changes as listeners come and go. */
  get #wantsRefs(): boolean {
    return this.#context?.wantsEvictedRefs === true
  }
  #attached = false
  #closed = false
  #sweeper: NodeJS.Timeout | undefined
  /** Waits for the connection and words connection errors (see `connection.ts`). */
  readonly #ready: ReadyWait
  /** Whether to auto-pipeline while other operations are in flight (see {@link RedisStorage.#exec}). */
  readonly #pipelineWhenBusy: boolean
  /** Operations of this storage under way. */
  #inFlight = 0
  readonly #stopPreloading: () => void
  /** Reads and writes of the current tick, sent together on the next (see `batch.ts`). */
  readonly #queue = new OpQueue<'read' | 'write', Coalesced>((kind, run) =>
    this.#withoutAutoPipelining(() => (kind === 'read' ? this.#sendReads(run) : this.#sendWrites(run))),
  )

  constructor(options: RedisStorageOptions) {
    const { timeout, maxBytes, serializer } = checkOptions(options)
    this.prefix = checkPrefix(options.prefix ?? 'cacheado')
    this.serializer = serializer
    this.#timeoutMs = timeout
    this.#deadlines = new Deadlines(timeout, () =>
      storageTimeout('redis', 'command', 'commandTimeoutMs', timeout),
    )
    this.#maxValueBytes = maxBytes
    this.#keys = new RedisKeys(this.prefix)
    this.#connection = connect({ ...options, commandTimeoutMs: timeout })
    this.#client = this.#connection.client
    this.#ready = new ReadyWait(this.#connection, timeout)
    this.#isCluster = this.#client.isCluster
    this.#pipelineWhenBusy = this.#connection.owned && (options.autoPipelining ?? true)
    this.#header = this.#makeHeader()
    this.#stopPreloading = preloadScripts(this.#client, SCRIPTS)
    this.#registry = new TagRegistry(this.#client, this.#keys, (promise) => this.#timed(promise))
    this.#evictions = new RedisEvictions({
      client: this.#client,
      keys: this.#keys,
      registry: this.#registry,
      isCluster: this.#isCluster,
      timed: (promise) => this.#timed(promise),
      header: () => this.#header,
      bounds: () => this.#bounds,
      clusterWide: () => this.#clusterWide,
      report: (reason, count, ref) => this.#onEvicted(reason, count, ref),
      wantsRefs: () => this.#wantsRefs,
    })
    this.#writes = new RedisWrites({
      client: this.#client,
      keys: this.#keys,
      registry: this.#registry,
      evictions: this.#evictions,
      isCluster: this.#isCluster,
      channel: `${this.prefix}:bus`,
      timed: (promise) => this.#timed(promise),
      header: () => this.#header,
      clusterWide: () => this.#clusterWide,
      report: (reason, count, ref) => this.#onEvicted(reason, count, ref),
    })
    this.#labels = new RedisLabels({
      client: this.#client,
      keys: this.#keys,
      registry: this.#registry,
      evictions: this.#evictions,
      timed: (promise) => this.#timed(promise),
      header: () => this.#header,
      clusterWide: () => this.#clusterWide,
      report: (reason, count, ref) => this.#onEvicted(reason, count, ref),
    })
    this.locks = new RedisLocks(this.#client, this.#keys, (command) =>
      this.#exec(() => this.#timed(command())),
    )
  }

  attach(context: StorageContext): void {
    if (this.#attached) {
      throw new ConfigurationError(
        'this RedisStorage already belongs to a Cache; give each Cache its own storage',
      )
    }
    this.#attached = true
    this.#bounds = context.bounds
    this.#onEvicted = context.onEvicted
    this.#context = context
    const wide = context.bounds.filter((b) => b.per === undefined)
    this.#clusterWide = this.#isCluster && wide.length !== 0
    this.#touchWide = this.#isCluster && wide.some((b) => b.order === 'lru')
    this.#touchInScript = context.bounds.some(
      (b) => b.order === 'lru' && (b.per !== undefined || !this.#isCluster),
    )
    this.#header = this.#makeHeader()
    if (context.bounds.length !== 0) {
      // Advisory (see RedisKeys.bounds): a failure here costs nothing but that copy.
      const record = JSON.stringify(context.bounds)
      this.#exec(() => this.#timed(this.#client.set(this.#keys.bounds, record))).catch(() => undefined)
    }
    if (context.sweepIntervalMs !== undefined) {
      this.#sweeper = setInterval(() => {
        if (this.#closed || this.#client.status !== 'ready') return
        this.#evictions.sweep().catch(() => undefined)
      }, context.sweepIntervalMs)
      this.#sweeper.unref()
    }
  }

  get(ref: EntryRef): Promise<unknown> {
    let member: string
    try {
      member = this.#keys.member(ref)
    } catch (error) {
      // A key Redis cannot hold (lone surrogate): a rejection, as from every provider.
      return Promise.reject(error)
    }
    const data = this.#keys.data(member)
    if (this.#touchInScript || this.#touchWide) return this.#getTouching(member, data)
    if (this.#startAlone()) {
      // Sequential use: one GET at once, with as few promise hops as possible.
      return this.#deadlines.race(this.#client.getBuffer(data)).then(this.#gotAlone, this.#failedAlone)
    }
    return this.#getCoalesced(member, data)
  }

  /**
   * Starts an operation as the only one in flight, if it is (nothing queued, connection ready): it
   * may then send its command directly, without auto-pipelining, and must settle with
   * `#gotAlone`/`#wroteAlone`/`#failedAlone`, which end it. Otherwise it goes through `#exec`.
   */
  #startAlone(): boolean {
    if (this.#inFlight !== 0 || this.#client.status !== 'ready') return false
    this.#inFlight = 1
    if (this.#pipelineWhenBusy) this.#client.options.enableAutoPipelining = false
    return true
  }

  /** Settles {@link RedisStorage.get}'s lone GET (bound once, so that a read allocates no closures). */
  readonly #gotAlone = (found: Buffer | null): unknown => {
    this.#inFlight--
    return found === null ? MISS : this.serializer.deserialize(found)
  }

  readonly #failedAlone = (error: unknown): never => {
    this.#inFlight--
    throw this.#ready.describe(error)
  }

  /** A read while others are in flight: coalesced with the reads of this tick (`batch.ts`). */
  async #getCoalesced(member: string, data: string): Promise<unknown> {
    const group = this.#isCluster ? this.#keys.tagOfMember(member) : ''
    const found = (await this.#exec(
      () =>
        this.#inFlight === 1
          ? this.#timed(this.#client.getBuffer(data))
          : this.#queue.push('read', { group, data }),
      true,
    )) as Buffer | null
    return found === null ? MISS : this.serializer.deserialize(found)
  }

  /** A read that also marks the entry used for LRU bounds. */
  async #getTouching(member: string, data: string): Promise<unknown> {
    const bytes = await this.#exec(async () => {
      const found = this.#touchInScript
        ? ((await this.#timed(
            TOUCH.runBuffer(this.#client, [data], [...this.#header, member]),
          )) as Buffer | null)
        : await this.#timed(this.#client.getBuffer(data))
      if (found !== null && this.#touchWide) {
        await this.#timed(WIDE_TOUCH.run(this.#client, [`${this.#keys.wide}n`], [...this.#header, member]))
      }
      return found
    })
    return bytes === null ? MISS : this.serializer.deserialize(bytes)
  }

  /** The live entries stored directly in `path` (see `StorageProvider.list` and `list.ts`). */
  list(path: ScopePath): Promise<ReadonlyArray<readonly [string, unknown]>> {
    const host = { client: this.#client, keys: this.#keys, serializer: this.serializer }
    return this.#exec(() => listScope({ ...host, timed: (promise) => this.#timed(promise) }, path))
  }

  /**
   * The value with its expiry, in one script (GET + PTTL, and the LRU touch when a bound needs it).
   * The expiry is computed from the time the request was sent, so it is never later than the real one.
   */
  async getWithExpiry(ref: EntryRef): Promise<StoredEntry | Miss> {
    const member = this.#keys.member(ref)
    const data = this.#keys.data(member)
    const sent = Date.now()
    const reply = await this.#exec(async () => {
      const found = (await this.#timed(
        this.#touchInScript
          ? TOUCH_TTL.runBuffer(this.#client, [data], [...this.#header, member])
          : GET_TTL.runBuffer(this.#client, [data], []),
      )) as [Buffer, number] | null
      if (found !== null && this.#touchWide) {
        await this.#timed(WIDE_TOUCH.run(this.#client, [`${this.#keys.wide}n`], [...this.#header, member]))
      }
      return found
    })
    if (reply === null) return MISS
    const [bytes, pttl] = reply
    const ttl = Number(pttl)
    // -1: no expiry; -2 (gone meanwhile) or 0: expired, reported as expiring now.
    const expiresAt = ttl === -1 ? undefined : sent + Math.max(ttl, 0)
    return { value: this.serializer.deserialize(bytes), expiresAt }
  }

  /**
   * The values of `refs` (see `bulk.ts`): one `MGET` for all of them on a standalone Redis, one per
   * tenant on a Cluster, sent at once. Under an LRU bound each ref is read with the touching script
   * instead (all sent at once too), so that every hit counts as a use.
   */
  async getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    const members = refs.map((ref) => this.#keys.member(ref))
    if (this.#touchInScript || this.#touchWide) return Promise.all(refs.map((ref) => this.get(ref)))
    return this.#exec(() => readValues(this.#bulk, members))
  }

  /**
   * The entries of `refs` with their expiries (see `bulk.ts`): one script for all of them on a
   * standalone Redis, one per tenant on a Cluster, sent at once. Under an LRU bound each ref is read
   * with the touching script instead (all sent at once too), so that every hit counts as a use.
   */
  async getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    const members = refs.map((ref) => this.#keys.member(ref))
    if (this.#touchInScript || this.#touchWide) return Promise.all(refs.map((ref) => this.getWithExpiry(ref)))
    return this.#exec(() => readMany(this.#bulk, members))
  }

  /**
   * Every write, values encoded and checked before anything is sent: without bounds one batch script
   * per tenant (sent at once); with bounds one write script each (the bounds decide per entry).
   */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    const encoded = writes.map(({ ref, value, ttlMs }) => {
      const member = this.#keys.member(ref)
      const keys = this.#keys.writeKeys(member)
      const bytes = this.#encode(value)
      // No labels: a bulk write replaces the entry, tags included (see labels.ts).
      const labels = ''
      return { group: this.#keys.tagOfMember(member), member, bytes, ttl: ttlArg(ttlMs), keys, labels }
    })
    if (this.#bounds.length === 0) return this.#exec(() => writeMany(this.#bulk, encoded))
    await Promise.all(
      encoded.map((w) =>
        this.#exec(() => this.#writes.write(w.member, w.bytes, w.ttl, undefined, undefined, w.labels)),
      ),
    )
  }

  /** Removes every ref (not repeated) with one script per tenant, sent at once (see `bulk.ts`). */
  async deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    const members = refs.map((ref) => this.#keys.member(ref))
    return this.#exec(() => deleteMany(this.#bulk, members))
  }

  get #bulk(): BulkHost {
    return {
      client: this.#client,
      keys: this.#keys,
      serializer: this.serializer,
      isCluster: this.#isCluster,
      writes: this.#writes,
      registry: this.#registry,
      evictions: this.#evictions,
      timed: (promise) => this.#timed(promise),
      header: () => this.#header,
      clusterWide: () => this.#clusterWide,
      wantsRefs: () => this.#wantsRefs,
      report: (reason, count, ref) => this.#onEvicted(reason, count, ref),
    }
  }

  /** A {@link RedisBus} on this storage's client, on the channel `<prefix>:bus`. */
  createBus(): Bus {
    return new RedisBus({ client: this.#client, channel: this.#channel, timeoutMs: this.#timeoutMs })
  }

  set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    if (this.#bounds.length !== 0) return this.#write(ref, value, ttlMs, options, undefined).then(NOTHING)
    let write: BatchedWrite
    try {
      const labels = packLabels(options)
      const bytes = this.#encode(value)
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
    if (this.#startAlone()) {
      // Sequential use: a batch of one at once, as for a lone read.
      return this.#writes.writeBatch([write]).then(this.#wroteAlone, this.#failedAlone)
    }
    // Otherwise coalesced with the writes of this tick.
    return this.#exec(
      () => (this.#inFlight === 1 ? this.#writes.writeBatch([write]) : this.#queue.push('write', write)),
      true,
    ).then(NOTHING)
  }

  readonly #wroteAlone = (): void => {
    this.#inFlight--
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
    return this.#exec(() => this.#writes.fence(member))
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
    const bytes = this.#encode(value)
    const member = this.#keys.member(ref)
    return this.#exec(() => this.#writes.write(member, bytes, ttl, notice, fence, labels))
  }

  get #channel(): string {
    return `${this.prefix}:bus`
  }

  async delete(ref: EntryRef): Promise<boolean> {
    const member = this.#keys.member(ref)
    return this.#exec(async () => {
      const [existed, stale, gone, creation] = (await this.#timed(
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
    return this.#exec(() => this.#evictions.evictScope(path, new EvictProgress(undefined)))
  }

  static {
    internals = {
      client: (storage) => storage.#client,
      evictScope: (storage, path, onBatch) =>
        storage.#exec(() => storage.#evictions.evictScope(path, new EvictProgress(onBatch))),
    }
  }

  /**
   * Removes the entries at or under `path` carrying any of `tags` (see `labels.ts`): one script per
   * batch on the tenant's slot for a scoped invalidation, one per registered tenant for `[]`. Raises
   * the scope's eviction generation first, as `evictScope` does, so fenced writes taken before fail.
   */
  async invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    return this.#exec(() => this.#labels.invalidate(tags, path))
  }

  async size(): Promise<number> {
    return this.#exec(() => this.#evictions.size())
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#stopPreloading()
    this.#deadlines.stop()
    if (!this.#connection.owned) return
    try {
      await withTimeout(this.#client.quit(), this.#timeoutMs)
    } catch {
      this.#client.disconnect()
    }
  }

  /** ARGV header of every script: prefix, inline-wide flag, then the bounds (see `prelude.ts`). */
  #makeHeader(): string[] {
    const header = [this.prefix, this.#isCluster ? '0' : '1', String(this.#bounds.length)]
    for (const b of this.#bounds) {
      header.push(
        b.order === 'lru' ? 'l' : 'i',
        String(b.maxItems),
        b.per === undefined ? '' : escapeComponent(b.per),
        boundId(b),
      )
    }
    return header
  }

  #encode(value: unknown): Buffer {
    let bytes: Uint8Array
    try {
      bytes = this.serializer.serialize(value)
    } catch (error) {
      if (error instanceof SerializationError) throw error
      throw new SerializationError(
        `the ${this.serializer.name} serializer failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    }
    if (bytes.byteLength > this.#maxValueBytes) {
      throw new SerializationError(
        `the serialized value has ${bytes.byteLength} bytes, more than maxValueBytes (${this.#maxValueBytes}); store less or raise maxValueBytes`,
      )
    }
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /**
   * Runs an operation once the client is connected, naming the server (never its password) on failure.
   * With `autoPipelining` (clients we create only), an operation that starts while others are in
   * flight has its commands queued and sent together with theirs on the next turn of the event loop;
   * one that starts alone sends at once, so sequential use pays no wait. Order is kept: a command is
   * sent directly only when no other operation, hence no queued command of ours, is under way.
   * While a first connection is being made, it waits for it (up to the timeout); once a connection has
   * been lost, it fails at once until the client has reconnected, so a memoized call that falls back
   * to its function pays no timeout while Redis is down.
   */
  async #exec<T>(run: () => Promise<T>, coalesced = false): Promise<T> {
    try {
      const status = this.#client.status
      if (status !== 'ready') {
        if (status === 'reconnecting' || status === 'close') throw this.#ready.notConnected(status)
        await this.#ready.wait(this.#closed)
      }
      // Coalesced operations that started earlier are sent before this one's commands.
      if (!coalesced) this.#queue.flush()
      this.#inFlight++
      if (this.#pipelineWhenBusy) this.#client.options.enableAutoPipelining = this.#inFlight > 1
      try {
        return await run()
      } finally {
        this.#inFlight--
      }
    } catch (error) {
      throw this.#ready.describe(error)
    }
  }

  /**
   * Runs `send` with ioredis's auto-pipelining off: a coalesced run is already one command per hash
   * slot, and auto-pipelining would hold it back until `setImmediate` (measured: 100 concurrent gets
   * 80k -> 106k ops/s, sets 27k -> 37k ops/s without that wait).
   */
  #withoutAutoPipelining(send: () => void): void {
    if (!this.#pipelineWhenBusy) return send()
    const options = this.#client.options
    const before = options.enableAutoPipelining
    options.enableAutoPipelining = false
    try {
      send()
    } finally {
      options.enableAutoPipelining = before
    }
  }

  /** Sends a run of coalesced reads: one `GET`, or an `MGET` per hash-slot group. */
  #sendReads(run: readonly CoalescedOp[]): void {
    if (run.length === 1) {
      const op = run[0]!
      this.#timed(this.#client.getBuffer((op.payload as { data: string }).data)).then(op.resolve, op.reject)
      return
    }
    for (const group of groupRun(run, COALESCE_LIMIT)) {
      const keys = group.map((op) => (op.payload as { data: string }).data)
      this.#timed(this.#client.mgetBuffer(keys)).then(
        (values) => group.forEach((op, i) => op.resolve(values[i] ?? null)),
        (error: unknown) => group.forEach((op) => op.reject(error)),
      )
    }
  }

  /** Sends a run of coalesced writes: one batch script per tag (hash slot). */
  #sendWrites(run: readonly CoalescedOp[]): void {
    for (const group of groupRun(run, COALESCE_LIMIT)) {
      this.#writes.writeBatch(group.map((op) => op.payload as BatchedWrite)).then(
        () => group.forEach((op) => op.resolve(undefined)),
        (error: unknown) => group.forEach((op) => op.reject(error)),
      )
    }
  }

  /** `promise`, rejected after the command timeout (one timer for all commands: `deadlines.ts`). */
  #timed<T>(promise: Promise<T>): Promise<T> {
    return this.#deadlines.race(promise)
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
