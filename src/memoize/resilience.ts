import { ConfigurationError } from '../errors.js'
import { MAX_TTL_SECONDS, timerMs } from '../ttl.js'
import type { EntryLocks } from '../storage/contract.js'

/** The `lock` option's object form. */
export interface LockOptions {
  /**
   * Milliseconds the lock lives without renewal (default 5000). The holder renews it every third of
   * this while its function runs, so a slow function keeps it; a holder that crashed (or lost its
   * connection) blocks the others at most this long.
   */
  readonly ttlMs?: number
  /**
   * Milliseconds a caller waits for another process's result (default 10000). Past that it runs the
   * function itself, without the lock: set it above your function's slowest expected duration.
   */
  readonly waitMs?: number
}

/** Stampede protection, grace and timeouts of one memoizer, validated and in milliseconds. */
export interface Resilience {
  /** Cross-process lock, when configured and the storage has locks. */
  readonly lock: { readonly locks: EntryLocks; readonly ttlMs: number; readonly waitMs: number } | undefined
  /** Grace period in ms (0: none). */
  readonly graceMs: number
  /** Soft timeout in ms, or undefined. */
  readonly softTimeoutMs: number | undefined
  /** Hard timeout in ms, or undefined. */
  readonly hardTimeoutMs: number | undefined
}

/** The options of `cache.cache(...)` this module reads. */
export interface ResilienceOptions {
  /**
   * Stampede protection across processes: `true` (or `{ ttlMs, waitMs }`) makes processes sharing the
   * storage run the function once per key between them, through the storage's entry locks. A no-op on
   * a synchronous (in-process) storage; a `ConfigurationError` on an async storage without locks.
   */
  readonly lock?: boolean | LockOptions
  /**
   * Seconds a result is kept after its TTL: a call that finds it stale answers it and starts one
   * background refresh; a failed refresh keeps it served (and is an `error` event). Needs a TTL.
   */
  readonly graceSeconds?: number
  /**
   * Milliseconds a stale hit waits for its refresh before answering the stale value (needs
   * `graceSeconds`; functions returning a Promise only).
   */
  readonly softTimeoutMs?: number
  /**
   * Milliseconds a call without a usable cached value waits for the function (or for another process's
   * result) before rejecting with a `TimeoutError`; the late result is stored when it arrives.
   */
  readonly hardTimeoutMs?: number
}

/** What the storage offers. */
export interface LockSupport {
  readonly storageType: string
  readonly isSync: boolean
  readonly locks: EntryLocks | undefined
}

const DEFAULT_LOCK_TTL_MS = 5000
const DEFAULT_LOCK_WAIT_MS = 10000

function positive(value: unknown, name: string, example: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `${name} must be a positive finite number, got ${typeof value === 'number' ? String(value) : typeof value}; e.g. ${example}`,
    )
  }
  return value
}

/**
 * Validates the stampede, grace and timeout options at wrap time. `ttlMs` is the memoizer's TTL (its
 * own or the cache's default). Rules:
 * - `lock` over a synchronous storage (in-process, like `InMemory`) is a no-op: single flight already
 *   runs the function once per key in the only process that sees the storage. Over an asynchronous
 *   storage without {@link EntryLocks} it is a `ConfigurationError` (it could not do what it says);
 * - `graceSeconds` needs a TTL (there is nothing to be stale without one);
 * - `softTimeoutMs` needs `graceSeconds` (it only chooses between a stale value and a fresh one).
 */
export function resolveResilience(
  options: ResilienceOptions,
  ttlMs: number | undefined,
  storage: LockSupport,
): Resilience {
  let graceMs = 0
  if (options.graceSeconds !== undefined) {
    graceMs = positive(options.graceSeconds, 'graceSeconds', '{ ttlSeconds: 60, graceSeconds: 300 }') * 1000
    if (ttlMs === undefined) {
      throw new ConfigurationError(
        'graceSeconds needs a TTL: results never become stale without one; set ttlSeconds on the memoizer or defaultTtlSeconds on the cache, e.g. { ttlSeconds: 60, graceSeconds: 300 }',
      )
    }
    if (ttlMs + graceMs > MAX_TTL_SECONDS * 1000) {
      throw new ConfigurationError(
        `ttlSeconds + graceSeconds must be at most ${MAX_TTL_SECONDS} seconds (100 years, the longest TTL a storage keeps), got ${(ttlMs + graceMs) / 1000}; lower graceSeconds`,
      )
    }
  }
  const softTimeoutMs =
    options.softTimeoutMs === undefined
      ? undefined
      : timerMs(
          options.softTimeoutMs,
          'softTimeoutMs',
          '{ ttlSeconds: 60, graceSeconds: 300, softTimeoutMs: 50 }',
        )
  if (softTimeoutMs !== undefined && graceMs === 0) {
    throw new ConfigurationError(
      'softTimeoutMs needs graceSeconds: it bounds how long a call waits for a refresh before serving the stale value; add e.g. graceSeconds: 300, or use hardTimeoutMs to bound calls without a cached value',
    )
  }
  const hardTimeoutMs =
    options.hardTimeoutMs === undefined
      ? undefined
      : timerMs(options.hardTimeoutMs, 'hardTimeoutMs', '{ hardTimeoutMs: 2000 }')
  return { lock: resolveLock(options.lock, storage), graceMs, softTimeoutMs, hardTimeoutMs }
}

function resolveLock(option: ResilienceOptions['lock'], storage: LockSupport): Resilience['lock'] {
  if (option === undefined || option === false) return undefined
  if (option !== true && (option === null || typeof option !== 'object')) {
    throw new ConfigurationError(
      `the lock option must be true, false or { ttlMs?, waitMs? }, got ${option === null ? 'null' : typeof option}`,
    )
  }
  const { ttlMs = DEFAULT_LOCK_TTL_MS, waitMs = DEFAULT_LOCK_WAIT_MS } = option === true ? {} : option
  const ttl = timerMs(ttlMs, 'lock.ttlMs', '{ lock: { ttlMs: 5000 } }')
  timerMs(waitMs, 'lock.waitMs', '{ lock: { waitMs: 10000 } }', 0)
  if (storage.locks !== undefined) return { locks: storage.locks, ttlMs: ttl, waitMs }
  if (storage.isSync) return undefined
  throw new ConfigurationError(
    `the ${storage.storageType} storage has no cross-process locks, so lock cannot work with it; remove the lock option (single flight still runs the function once per key in each process) or use a storage with locks (RedisStorage, MongoDBStorage)`,
  )
}
