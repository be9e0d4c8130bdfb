import type { BoundPolicy, EntryRef, Miss, ScopePath, StoredEntry } from '../contract.js'
import { MISS } from '../contract.js'
import { decodeEntry } from '../entry-codec.js'
import { decodeEntryRef } from '../key-encoding.js'
import type { BulkHost } from './bulk.js'
import { readMany, readValues } from './bulk.js'
import type { RedisClient } from './connection.js'
import type { RedisExecutor } from './executor.js'
import type { RedisKeys } from './keys.js'
import { listScope } from './list.js'
import { GET_TTL, TOUCH, TOUCH_TTL, WIDE_TOUCH } from './scripts.js'
import type { RedisValueCodec } from './value-codec.js'

/** What {@link RedisReads} needs of its storage. */
export interface ReadsHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  /** Sends every command: connection wait, timeout, coalescing (see `executor.ts`). */
  readonly x: RedisExecutor
  readonly isCluster: boolean
  readonly codec: RedisValueCodec
  /** What the bulk reads need (see `bulk.ts`). */
  readonly bulk: BulkHost
  /** The scripts' header arguments (they change with `attach`). */
  header(): string[]
}

/**
 * The Redis storage's reads: `get` (alone, coalesced, or touching an LRU bound), `getWithExpiry`, the
 * bulk reads and `list`. Under an LRU bound every hit counts as a use: the read runs the touch script
 * (and, for a cache-wide LRU bound on a Cluster, touches the bounds' slot too).
 */
export class RedisReads {
  /** An LRU bound is handled by the tag scripts: reads must run the touch script. */
  #touchInScript = false
  /** A cache-wide LRU bound on a Cluster: hits are touched on the bounds' slot too. */
  #touchWide = false

  constructor(readonly host: ReadsHost) {}

  /** Applies the cache's bounds (see `RedisStorage.attach`). */
  configure(bounds: readonly BoundPolicy[]): void {
    const { isCluster } = this.host
    this.#touchWide = isCluster && bounds.some((b) => b.per === undefined && b.order === 'lru')
    this.#touchInScript = bounds.some((b) => b.order === 'lru' && (b.per !== undefined || !isCluster))
  }

  get(ref: EntryRef): Promise<unknown> {
    const { keys, x, codec } = this.host
    let member: string
    try {
      member = keys.member(ref)
    } catch (error) {
      // A key Redis cannot hold (lone surrogate): a rejection, as from every provider.
      return Promise.reject(error)
    }
    const data = keys.data(member)
    if (this.#touchInScript || this.#touchWide) return this.#getTouching(member, data, ref)
    // Sequential use: one GET at once, with as few promise hops as possible.
    if (codec.entry === undefined && x.startAlone()) return x.getAlone(data)
    return this.#getCoalesced(member, data, ref)
  }

  /** A read while others are in flight: coalesced with the reads of this tick (`batch.ts`). */
  async #getCoalesced(member: string, data: string, ref: EntryRef): Promise<unknown> {
    const { keys, x, codec } = this.host
    const found = await x.read(this.host.isCluster ? keys.tagOfMember(member) : '', data)
    return found === null ? MISS : codec.decode(found, ref)
  }

  /** A read that also marks the entry used for LRU bounds. */
  async #getTouching(member: string, data: string, ref: EntryRef): Promise<unknown> {
    const { client, x } = this.host
    const bytes = await x.exec(async () => {
      const found = this.#touchInScript
        ? ((await x.timed(TOUCH.runBuffer(client, [data], [...this.host.header(), member]))) as Buffer | null)
        : await x.timed(client.getBuffer(data))
      if (found !== null && this.#touchWide) await this.#touchOnWideSlot(member)
      return found
    })
    return bytes === null ? MISS : this.host.codec.decode(bytes, ref)
  }

  /** Marks `member` used for the cache-wide LRU bound on a Cluster (on the bounds' slot). */
  async #touchOnWideSlot(member: string): Promise<void> {
    const { client, keys, x } = this.host
    await x.timed(WIDE_TOUCH.run(client, [`${keys.wide}n`], [...this.host.header(), member]))
  }

  /** The live entries stored directly in `path` (see `StorageProvider.list` and `list.ts`). */
  list(path: ScopePath): Promise<ReadonlyArray<readonly [string, unknown]>> {
    const { client, keys, x, codec } = this.host
    const host = {
      client,
      keys,
      decode: (bytes: Buffer, member: string) => codec.decode(bytes, decodeEntryRef(member)),
    }
    return x.exec(() => listScope({ ...host, timed: (promise) => x.timed(promise) }, path))
  }

  /**
   * The value with its expiry, in one script (GET + PTTL, and the LRU touch when a bound needs it).
   * The expiry is computed from the time the request was sent, so it is never later than the real one.
   */
  async getWithExpiry(ref: EntryRef): Promise<StoredEntry | Miss> {
    const { client, keys, x, codec } = this.host
    const member = keys.member(ref)
    const data = keys.data(member)
    const sent = Date.now()
    const reply = await x.exec(async () => {
      const found = (await x.timed(
        this.#touchInScript
          ? TOUCH_TTL.runBuffer(client, [data], [...this.host.header(), member])
          : GET_TTL.runBuffer(client, [data], []),
      )) as [Buffer, number] | null
      if (found !== null && this.#touchWide) await this.#touchOnWideSlot(member)
      return found
    })
    if (reply === null) return MISS
    const [bytes, pttl] = reply
    const ttl = Number(pttl)
    // -1: no expiry; -2 (gone meanwhile) or 0: expired, reported as expiring now.
    const expiresAt = ttl === -1 ? undefined : sent + Math.max(ttl, 0)
    if (codec.entry === undefined) return { value: codec.serializer.deserialize(bytes), expiresAt }
    const value = await decodeEntry(codec.entry, bytes, ref)
    return value === MISS ? MISS : { value, expiresAt }
  }

  /**
   * The values of `refs` (see `bulk.ts`): one `MGET` for all of them on a standalone Redis, one per
   * tenant on a Cluster, sent at once. Under an LRU bound each ref is read with the touching script
   * instead (all sent at once too), so that every hit counts as a use.
   */
  async getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    const members = refs.map((ref) => this.host.keys.member(ref))
    if (this.#touchInScript || this.#touchWide) return Promise.all(refs.map((ref) => this.get(ref)))
    return this.host.x.exec(() => readValues(this.host.bulk, members))
  }

  /**
   * The entries of `refs` with their expiries (see `bulk.ts`): one script for all of them on a
   * standalone Redis, one per tenant on a Cluster, sent at once. Under an LRU bound each ref is read
   * with the touching script instead (all sent at once too), so that every hit counts as a use.
   */
  async getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    const members = refs.map((ref) => this.host.keys.member(ref))
    if (this.#touchInScript || this.#touchWide) return Promise.all(refs.map((ref) => this.getWithExpiry(ref)))
    return this.host.x.exec(() => readMany(this.host.bulk, members))
  }
}
