import { Cluster, Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { randomUUID } from 'node:crypto'
import type { BoundPolicy, Invalidation, ScopePath } from '../contract.js'
import type { EntryInfo, InspectReport, StatsOptions, StatsReport, StorageAdmin } from '../admin.js'
import { groupOf, NotPublishedError, UsageTally, withDeadline } from '../admin.js'
import { decodeEntryRef } from '../key-encoding.js'
import { RedisStorage, redisInternals } from './storage.js'
import type { RedisClient } from './connection.js'
import { redactUrl } from './connection.js'
import { checkPrefix, GLOBAL_TAG, RedisKeys } from './keys.js'

/** How {@link openRedisAdmin} connects. */
export interface RedisAdminOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`): a standalone server or any Cluster node. */
  readonly url: string
  /** The storage prefix (RedisStorage's `prefix`). */
  readonly prefix: string
  /** Connect and command timeout in milliseconds. */
  readonly timeoutMs: number
  /** `true`: the URL is a Cluster node; `false`: standalone; absent: asked to the server (`INFO cluster`). */
  readonly cluster?: boolean
}

/** Tags handled concurrently while walking the registry. */
const TAG_CONCURRENCY = 16
/** Members read per ZSCAN / ZRANGE step and sized per pipeline. */
const STEP = 1000

/**
 * Connects once (no reconnection: an operator wants a quick, clear failure) and returns the admin.
 * A Cluster is detected with `INFO cluster` unless `cluster` says what to expect.
 */
export async function openRedisAdmin(options: RedisAdminOptions): Promise<RedisAdmin> {
  const prefix = checkPrefix(options.prefix)
  const common: RedisOptions = {
    connectTimeout: options.timeoutMs,
    commandTimeout: options.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    // (CLIENT SETINFO would be one more round trip, and one more timeout, before the ready check.)
    disableClientInfo: true,
  }
  const where = redactUrl(options.url)
  const probe = new Redis(options.url, common)
  // ioredis rejects connect() with "Connection is closed."; the reason comes as an 'error' event.
  let reason: Error | undefined
  probe.on('error', (error: Error) => {
    reason ??= error
  })
  try {
    await withDeadline(probe.connect(), options.timeoutMs, `no answer within ${options.timeoutMs} ms`)
  } catch (error) {
    probe.disconnect()
    const message = (reason ?? (error as Error)).message
    throw new Error(`cannot connect to ${where}: ${message}`, { cause: error })
  }
  let cluster = options.cluster
  if (cluster === undefined) {
    // A server that refuses INFO (ACLs, renamed commands) is taken as standalone; --cluster overrides.
    const info = await probe.info('cluster').catch((error: unknown) => {
      // A timeout is a stalled server, not a refusal.
      if (probe.status !== 'ready' || /timed out/i.test((error as Error).message)) {
        probe.disconnect()
        throw new Error(`${where} did not answer within ${options.timeoutMs} ms`, { cause: error })
      }
      return ''
    })
    cluster = /^cluster_enabled:1/m.test(info)
  }
  if (!cluster)
    return checked(new RedisAdmin(probe, prefix, options.timeoutMs, `${where} (prefix ${prefix})`))
  const { host, port, username, password, tls } = probe.options
  probe.disconnect()
  const client = new Cluster([{ host: host ?? '127.0.0.1', port: port ?? 6379 }], {
    clusterRetryStrategy: () => null,
    enableOfflineQueue: false,
    lazyConnect: true,
    slotsRefreshTimeout: options.timeoutMs,
    // (Node connections take the Cluster's offline-queue and lazy settings: with `lazyConnect: false`
    // and no offline queue here, ioredis 5 never settles `connect()`.)
    redisOptions: {
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      maxRetriesPerRequest: 0,
      disableClientInfo: true,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls } : {}),
    },
  })
  client.on('error', () => undefined)
  try {
    await withDeadline(client.connect(), options.timeoutMs, `no answer within ${options.timeoutMs} ms`)
  } catch (error) {
    client.disconnect()
    throw new Error(`cannot connect to the Redis Cluster of ${where}: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return checked(
    new RedisAdmin(client, prefix, options.timeoutMs, `${where} (Redis Cluster, prefix ${prefix})`),
  )
}

/** The admin after its prefix check; closed if the check fails. */
async function checked(admin: RedisAdmin): Promise<RedisAdmin> {
  try {
    return await admin.checkPrefix()
  } catch (error) {
    await admin.close()
    throw error
  }
}

/**
 * The operator's view of one RedisStorage prefix (key layout in `prelude.ts`). Reads walk the
 * registry of tags and each tag's root index, never `SCAN`/`KEYS`: `count` and byte-less `stats` at
 * depth 1 cost O(tenants); sizes, deeper grouping and `inspect` read members of the indexes (ZSCAN /
 * ZRANGE in steps of 1000) and their data keys' `STRLEN` (pipelined per tag, all in one slot).
 * Eviction is RedisStorage's own `evictScope`. Live means an index score (expiry in ms on the server's
 * clock) not yet passed, as in `RedisStorage.size()`.
 */
export class RedisAdmin implements StorageAdmin {
  readonly #keys: RedisKeys
  warning: string | undefined

  constructor(
    readonly client: RedisClient,
    readonly prefix: string,
    readonly timeoutMs: number,
    readonly description: string,
  ) {
    this.#keys = new RedisKeys(prefix)
  }

  /** Sets {@link RedisAdmin.warning} when nothing is registered under the prefix; returns this. */
  async checkPrefix(): Promise<this> {
    if ((await this.client.exists(this.#keys.registry)) === 0) {
      this.warning = `nothing is stored under the prefix "${this.prefix}" (no key ${this.#keys.registry}); check --prefix`
    }
    return this
  }

  async stats(options: StatsOptions): Promise<StatsReport> {
    const tally = new UsageTally()
    const now = await this.#now()
    const walk = options.bytes || options.depth > 1
    await this.#eachTag(async (tag) => {
      const root = this.#keys.rootIndex(tag)
      if (!walk) {
        const live = await this.client.zcount(root, now, '+inf')
        if (live > 0) tally.add(tag === GLOBAL_TAG ? '' : tag, 0, live)
        return
      }
      let cursor = '0'
      do {
        const [next, flat] = await this.client.zscan(root, cursor, 'COUNT', STEP)
        cursor = next
        const members: string[] = []
        for (let i = 0; i + 1 < flat.length; i += 2) {
          if (expiryOf(flat[i + 1]!) >= now) members.push(flat[i]!)
        }
        const sizes = options.bytes ? await this.#sizes(members) : undefined
        members.forEach((member, i) => {
          const size = sizes?.[i]
          if (size === 0) return // gone since the index was read
          tally.add(groupOf(member, options.depth), size ?? 0)
        })
      } while (cursor !== '0')
    })
    return tally.report(options.limit, options.bytes)
  }

  async count(path: ScopePath): Promise<number> {
    const now = await this.#now()
    if (path.length !== 0) return this.client.zcount(this.#keys.index(path), now, '+inf')
    let total = 0
    await this.#eachTag(async (tag) => {
      // (not `total += await ...`: that would read `total` before the concurrent counts land)
      const live = await this.client.zcount(this.#keys.rootIndex(tag), now, '+inf')
      total += live
    })
    return total
  }

  async inspect(path: ScopePath, limit: number): Promise<InspectReport> {
    const entries = await this.count(path)
    const now = await this.#now()
    const indexes =
      path.length !== 0
        ? [this.#keys.index(path)]
        : (await this.#tags()).sort().map((tag) => this.#keys.rootIndex(tag))
    const shown: EntryInfo[] = []
    for (const index of indexes) {
      if (shown.length >= limit) break
      const flat = await this.client.zrangebyscore(
        index,
        now,
        '+inf',
        'WITHSCORES',
        'LIMIT',
        0,
        limit - shown.length,
      )
      const members: string[] = []
      const expiries: string[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) {
        members.push(flat[i]!)
        expiries.push(flat[i + 1]!)
      }
      const sizes = await this.#sizes(members)
      members.forEach((member, i) => {
        if (sizes[i] === 0) return
        const ref = decodeEntryRef(member)
        const expiry = expiryOf(expiries[i]!)
        const ttlMs = expiry === Infinity ? null : Math.max(0, expiry - now)
        shown.push({ scope: ref.scope, key: ref.key, bytes: sizes[i]!, ttlMs })
      })
    }
    return { entries, shown }
  }

  /** `<prefix>:bus`: the channel of `RedisStorage.createBus()`, which the evictions are published on. */
  get bus(): string {
    return `${this.prefix}:bus`
  }

  /**
   * RedisStorage's own `evictScope`, which keeps the data, the scope indexes and the registry
   * consistent and works in batches of 2000, with the bounds the application's caches recorded under
   * `<prefix>:bounds`, so evicted entries also leave the bound sets. Then the eviction is published
   * on the storage's own bus (`RedisStorage.createBus()`: inboxes of the registered receivers on
   * standalone Redis, the shared channel on a Cluster), as a scope invalidation with an origin of the
   * CLI's own, so every running local tier drops its copies at or under `path` (everything for `[]`).
   * It is published after the last batch (a local tier that re-read an entry between two batches drops
   * it then) and also when the eviction fails half-way (some entries may be gone).
   */
  async evict(path: ScopePath, onProgress: (removedSoFar: number) => void): Promise<number> {
    return this.#withStorage(async (storage) => {
      let removed: number
      try {
        removed = await redisInternals.evictScope(storage, path, onProgress)
      } catch (error) {
        await this.#publish(storage, { kind: 'scope', path }).catch(() => undefined)
        throw error
      }
      try {
        await this.#publish(storage, { kind: 'scope', path })
      } catch (error) {
        throw new NotPublishedError(removed, this.bus, error)
      }
      return removed
    })
  }

  /** RedisStorage's own `delete`, then an entry invalidation on the bus (also if the delete failed). */
  async evictKey(path: ScopePath, key: string): Promise<boolean> {
    const ref = { scope: path, key }
    return this.#withStorage(async (storage) => {
      let existed: boolean
      try {
        existed = await storage.delete(ref)
      } catch (error) {
        await this.#publish(storage, { kind: 'entries', refs: [ref] }).catch(() => undefined)
        throw error
      }
      try {
        await this.#publish(storage, { kind: 'entries', refs: [ref] })
      } catch (error) {
        throw new NotPublishedError(existed ? 1 : 0, this.bus, error)
      }
      return existed
    })
  }

  /** RedisStorage's own `invalidateTags`, then a scope invalidation on the bus (as {@link RedisAdmin.evict}). */
  async invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    return this.#withStorage(async (storage) => {
      let removed: number
      try {
        removed = await storage.invalidateTags(tags, path)
      } catch (error) {
        await this.#publish(storage, { kind: 'scope', path }).catch(() => undefined)
        throw error
      }
      try {
        await this.#publish(storage, { kind: 'scope', path })
      } catch (error) {
        throw new NotPublishedError(removed, this.bus, error)
      }
      return removed
    })
  }

  /** A RedisStorage on this client, attached with the recorded bounds, closed after `use`. */
  async #withStorage<T>(use: (storage: RedisStorage) => Promise<T>): Promise<T> {
    const storage = new RedisStorage({
      client: this.client,
      prefix: this.prefix,
      commandTimeoutMs: this.timeoutMs,
    })
    try {
      storage.attach({
        bounds: parseBounds(await this.client.get(this.#keys.bounds)),
        onEvicted: () => undefined,
        wantsEvictedRefs: false,
      })
      return await use(storage)
    } finally {
      await storage.close()
    }
  }

  /** Publishes through the storage's own bus (never subscribed: the CLI receives nothing). */
  async #publish(storage: RedisStorage, invalidation: Invalidation): Promise<void> {
    const bus = storage.createBus()
    try {
      await bus.publish({ origin: `cacheado-cli:${randomUUID()}`, invalidation })
    } finally {
      await bus.close()
    }
  }

  /** `QUIT`, or a plain disconnection when the server does not answer it within the timeout. */
  async close(): Promise<void> {
    try {
      await withDeadline(this.client.quit(), this.timeoutMs, 'QUIT timed out')
    } catch {
      this.client.disconnect()
    }
  }

  /** The server's clock in ms (expiry scores are on it). */
  async #now(): Promise<number> {
    const [seconds, micros] = await this.client.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  async #tags(): Promise<string[]> {
    return this.client.smembers(this.#keys.registry)
  }

  async #eachTag(visit: (tag: string) => Promise<void>): Promise<void> {
    const tags = await this.#tags()
    for (let i = 0; i < tags.length; i += TAG_CONCURRENCY) {
      await Promise.all(tags.slice(i, i + TAG_CONCURRENCY).map(visit))
    }
  }

  /** `STRLEN` of each member's data key (0: gone), pipelined in steps (members of one tag: one slot). */
  async #sizes(members: readonly string[]): Promise<number[]> {
    const sizes: number[] = []
    for (let i = 0; i < members.length; i += STEP) {
      const pipeline = this.client.pipeline()
      for (const member of members.slice(i, i + STEP)) pipeline.strlen(this.#keys.data(member))
      const replies = (await pipeline.exec()) ?? []
      for (const [error, size] of replies) {
        if (error) throw error
        sizes.push(Number(size))
      }
    }
    return sizes
  }
}

/** An index score (expiry time in ms) as Redis replies it: `inf` for entries without TTL. */
function expiryOf(score: string): number {
  return score === 'inf' || score === '+inf' ? Infinity : Number(score)
}

/** The bounds recorded by the application's caches (see `RedisKeys.bounds`); none if absent or unreadable. */
function parseBounds(record: string | null): BoundPolicy[] {
  if (record === null) return []
  try {
    const parsed: unknown = JSON.parse(record)
    // Bounds are identified by their position: all or none.
    if (!Array.isArray(parsed)) return []
    // A bytes-only bound's maxItems (Infinity) is null in JSON.
    const valid = parsed.every(
      (b: { -readonly [K in keyof BoundPolicy]?: unknown } | null) =>
        b !== null &&
        (b.order === 'lru' || b.order === 'insertion') &&
        (Number.isSafeInteger(b.maxItems) || (b.maxItems === null && Number.isSafeInteger(b.maxBytes))) &&
        (b.maxBytes === undefined || Number.isSafeInteger(b.maxBytes)) &&
        (b.per === undefined || typeof b.per === 'string') &&
        (b.reason === 'lru' || b.reason === 'maxItems'),
    )
    if (!valid) return []
    return (parsed as (BoundPolicy & { maxItems: number | null })[]).map((b) =>
      b.maxItems === null ? { ...b, maxItems: Number.POSITIVE_INFINITY } : b,
    )
  } catch {
    return []
  }
}
