import type { ScopePath } from './contract.js'
import { decodeScopePath } from './key-encoding.js'

/**
 * A read-mostly operator's view of a shared backend, used by the `cacheado` CLI. It works from the
 * data alone (no `ScopeConfig`, no rules): scopes are the stored scope paths, sizes are the stored
 * (serialized) value bytes, without keys, indexes or the server's per-key overhead, so the same data
 * gives the same numbers on every backend.
 */
export interface StorageAdmin {
  /** Where the admin is connected, without any password, e.g. `redis://127.0.0.1:6379/0 (prefix cacheado)`. */
  readonly description: string
  /** Set when the target looks misconfigured (no data under that prefix, no such collection). */
  readonly warning: string | undefined
  /** Totals and the largest scopes. */
  stats(options: StatsOptions): Promise<StatsReport>
  /** Live entries at or under `path` (`[]`: all of them). */
  count(path: ScopePath): Promise<number>
  /** The live entries at or under `path`, at most `limit` of them, with their sizes and TTLs. */
  inspect(path: ScopePath, limit: number): Promise<InspectReport>
  /**
   * Removes every entry at or under `path` the way the storage's own `evictScope` does (indexes stay
   * consistent), in batches; `onProgress` gets the number removed so far after each batch. Where the
   * backend has a bus ({@link StorageAdmin.bus}), the eviction is then published on it as a scope
   * invalidation, as a cache's own `evictByScope` / `clear` publishes it, so the local tiers of
   * running processes drop their copies; it is published even when the eviction fails half-way.
   * Resolves only once both are done; rejects with {@link NotPublishedError} when the entries are
   * gone but the message could not be sent.
   */
  evict(path: ScopePath, onProgress: (removedSoFar: number) => void): Promise<number>
  /**
   * Removes the one entry `key` of the scope `path` (the storage's own `delete`) and, where there is
   * a bus, publishes it as an entry invalidation. Resolves whether it existed.
   */
  evictKey(path: ScopePath, key: string): Promise<boolean>
  /**
   * Removes the entries at or under `path` carrying any of `tags` (checked by the caller), the way the
   * storage's own `invalidateTags` does (write fences raised, indexes kept consistent), then, where
   * there is a bus, publishes a scope invalidation of `path` as a cache's own `invalidateTags` does
   * (also when it failed half-way). Resolves how many entries were removed; rejects with
   * {@link NotPublishedError} when they are gone but the message could not be sent.
   */
  invalidateTags(tags: readonly string[], path: ScopePath): Promise<number>
  /**
   * The channel the evictions are published on (`<prefix>:bus`, where `RedisStorage.createBus()`
   * publishes), or `undefined` when the backend has no bus (MongoDB: its caches' local tiers, if any,
   * learn of it at their `local.ttlSeconds`).
   */
  readonly bus: string | undefined
  /** Closes the connection. */
  close(): Promise<void>
}

/**
 * The entries are gone from the shared storage, but the bus message that tells the running processes
 * to drop their local copies could not be sent: they may serve those copies until their
 * `local.ttlSeconds`. Running the same eviction again publishes again.
 */
export class NotPublishedError extends Error {
  constructor(
    readonly removed: number,
    channel: string,
    cause: unknown,
  ) {
    super(
      `removed ${removed} entries, but could not publish the eviction on ${channel} (${(cause as Error)?.message ?? String(cause)}): running processes with a local tier may serve their copies until local.ttlSeconds; run the same evict again to publish it`,
      { cause },
    )
    this.name = 'NotPublishedError'
  }
}

/** What {@link StorageAdmin.stats} computes. */
export interface StatsOptions {
  /** Scopes are grouped by their first `depth` levels (1: top-level scopes, i.e. tenants). */
  readonly depth: number
  /** How many of the largest scopes to return. */
  readonly limit: number
  /** Whether to measure value sizes (reads every entry's size: O(entries) instead of O(tenants)). */
  readonly bytes: boolean
}

/** Usage of one scope (with everything under it). */
export interface ScopeUsage {
  /** The scope; `[]` stands for entries of the global scope. */
  readonly path: ScopePath
  readonly entries: number
  /** Sum of the serialized value sizes; absent when sizes were not measured. */
  readonly bytes?: number
}

/** Result of {@link StorageAdmin.stats}. */
export interface StatsReport {
  /** Live entries. */
  readonly entries: number
  /** Sum of the serialized value sizes; absent when sizes were not measured. */
  readonly bytes?: number
  /** Number of distinct scopes at the requested depth that hold entries. */
  readonly scopes: number
  /** The largest scopes by entries (then bytes, then path), at most `limit`. */
  readonly largest: readonly ScopeUsage[]
}

/** One entry as {@link StorageAdmin.inspect} reports it. */
export interface EntryInfo {
  readonly scope: ScopePath
  /** The storage key inside its scope (memoized calls appear as `#m:<namespace>:<arguments>`). */
  readonly key: string
  /** Size of the serialized value in bytes. */
  readonly bytes: number
  /** Milliseconds until it expires; `null` when it has no TTL. */
  readonly ttlMs: number | null
}

/** Result of {@link StorageAdmin.inspect}. */
export interface InspectReport {
  /** Live entries in the scope (all of them, not only those listed). */
  readonly entries: number
  /** Up to `limit` of them. */
  readonly shown: readonly EntryInfo[]
}

/**
 * Groups usage by scope prefix and keeps the largest; shared by the backends' admins. Groups are
 * keyed by encoded path (`encodeScopePath` of the first `depth` segments, see {@link groupOf}).
 */
export class UsageTally {
  readonly #groups = new Map<string, { entries: number; bytes: number }>()
  entries = 0
  bytes = 0

  /** Counts `count` entries of `bytes` in total under the encoded group path `group`. */
  add(group: string, bytes: number, count = 1): void {
    this.entries += count
    this.bytes += bytes
    const usage = this.#groups.get(group)
    if (usage) {
      usage.entries += count
      usage.bytes += bytes
    } else {
      this.#groups.set(group, { entries: count, bytes })
    }
  }

  /** The report, with sizes when `withBytes`. */
  report(limit: number, withBytes: boolean): StatsReport {
    const largest = [...this.#groups.entries()]
      .sort(([ka, a], [kb, b]) => b.entries - a.entries || b.bytes - a.bytes || (ka < kb ? -1 : 1))
      .slice(0, limit)
      .map(([key, g]) => {
        const path = decodeScopePath(key)
        return withBytes ? { path, entries: g.entries, bytes: g.bytes } : { path, entries: g.entries }
      })
    return withBytes
      ? { entries: this.entries, bytes: this.bytes, scopes: this.#groups.size, largest }
      : { entries: this.entries, scopes: this.#groups.size, largest }
  }
}

/**
 * The group of an encoded entry ref or scope path at `depth`: its text up to and including the
 * `depth`-th `/` before the key (fewer when the scope is shallower; `''` for the global scope).
 */
export function groupOf(encoded: string, depth: number): string {
  const bar = encoded.indexOf('|')
  const limit = bar === -1 ? encoded.length : bar
  let end = 0
  for (let i = 0; i < depth; i++) {
    const slash = encoded.indexOf('/', end)
    if (slash === -1 || slash >= limit) break
    end = slash + 1
  }
  return encoded.slice(0, end)
}

/**
 * `promise`, or a rejection with `Error(message)` once `ms` have passed without it settling; `onLate`
 * runs then (to drop the connection that hangs). Drivers bound each step on their own, but a stalled
 * server can chain several of their timeouts (ioredis: client info, then the ready check, then the
 * close), so the admins bound every whole step they wait for: `--timeout` is what the operator waits.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
  onLate: () => void = () => undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate()
      reject(new Error(message))
    }, ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
