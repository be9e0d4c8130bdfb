import { ConfigurationError } from '../errors.js'
import type { Fairness } from '../storage/fairness.js'
import { fairnessLevel } from '../storage/fairness.js'
import type { Bus, Invalidation, StorageProvider } from '../storage/contract.js'
import { timerMs } from '../ttl.js'
import type { CircuitBreakerOptions, CircuitCloseInfo, CircuitOpenInfo } from './circuit-breaker.js'
import { breakerSettings } from './circuit-breaker.js'

const DEFAULT_MAX_ITEMS = 10_000
const DEFAULT_TTL_SECONDS = 60

/** The `local` option of `new Cache(...)`: an in-process tier in front of a shared storage. */
export interface LocalTierOptions {
  /** At most this many local copies, dropped as `policy` says. Default 10 000. */
  readonly maxItems?: number
  /**
   * Which local copies go when `maxItems` is reached: `'lru'` (default) the least recently used;
   * `'tinylfu'` the least frequently used recently, behind a small window for new copies (W-TinyLFU,
   * as the `TinyLFUEvict` rule): better hit ratios when some keys are much hotter than others, and a
   * scan of cold keys does not flush the hot copies.
   */
  readonly policy?: 'lru' | 'tinylfu'
  /**
   * Optional: the local copies take at most this many bytes in total (a positive integer), as
   * estimated by `estimateSize` (strings 2 bytes per UTF-16 unit, objects walked; see
   * `docs/guide/byte-budgets.md`); the copies dropped first are chosen by `policy`. A value larger
   * than the budget is not kept locally (it is still stored in the shared storage, and any older local
   * copy of it is dropped). `maxItems` holds as well.
   */
  readonly maxBytes?: number
  /**
   * `'per-<level>'`, e.g. `'per-organization'`: when `maxItems` is reached, drop a copy of the tenant
   * (instance of that level) holding the most copies, in `policy` order within that tenant, so one
   * tenant's burst does not flush the others' copies (see `BoundOptions.fairness`). Default: none.
   */
  readonly fairness?: Fairness
  /**
   * A local copy lives at most this long (seconds), whatever the entry's own TTL: the bound on how
   * long a copy can be served after a bus message about it was lost without the bus noticing.
   * Default 60.
   */
  readonly ttlSeconds?: number
  /**
   * How processes tell each other to drop copies. Default: the storage's own bus
   * (`RedisStorage` makes one on Redis pub/sub); `false`: none, copies then live up to `ttlSeconds`
   * after another process changed the entry. A given bus belongs to the cache and is closed with it.
   * Copies are kept only once the bus confirmed its subscription (its first `onReset`): a custom bus
   * must report it, or the local tier keeps no copies.
   */
  readonly bus?: Bus | false
  /** The breaker around the shared storage; `false` turns it off. Default `{ failureThreshold: 5, openSeconds: 5 }`. */
  readonly circuitBreaker?: CircuitBreakerOptions | false
}

/** Payload of the cache's `busMessage` event: another process's invalidation was applied here. */
export interface BusMessageInfo {
  /** Id of the sending process's local tier. */
  readonly origin: string
  /** What was invalidated: one entry, or a scope and everything under it. */
  readonly invalidation: Invalidation
  /** Local copies it removed. */
  readonly dropped: number
}

/** Payload of the cache's `busReset` event: every local copy was dropped because messages may have been lost. */
export interface BusResetInfo {
  /** Why, e.g. `'subscribed'` (after a (re)connection) or `'circuit closed'`. */
  readonly reason: string
  /** Local copies removed. */
  readonly dropped: number
}

/** Where a tiered storage reports what the cache turns into events. */
export interface TierListener {
  readonly busMessage: (info: BusMessageInfo) => void
  readonly busReset: (info: BusResetInfo) => void
  readonly circuitOpen: (info: CircuitOpenInfo) => void
  readonly circuitClose: (info: CircuitCloseInfo) => void
  /** A background failure (publishing, a background touch, the bus itself). */
  readonly error: (operation: string, error: unknown) => void
}

/** {@link LocalTierOptions} checked and filled in, for a tier in front of `shared`. */
export interface TierSettings {
  readonly maxItems: number
  readonly maxBytes: number | undefined
  readonly policy: 'lru' | 'tinylfu'
  /** The level of `fairness` (`'per-user'` -> `'user'`), if given. */
  readonly fairness: string | undefined
  readonly ttlMs: number
  /** The bus in use (made by the shared storage when none was given), or none. */
  readonly bus: Bus | undefined
  /** Whether the bus is the shared storage's own (`options.bus` was not given). */
  readonly ownBus: boolean
  readonly circuitBreaker: CircuitBreakerOptions | false
}

/**
 * Checks `options` (a `ConfigurationError` saying what was wrong) and fills in the defaults; makes the
 * shared storage's bus when `options.bus` is not given.
 */
export function tierSettings(shared: StorageProvider, options: LocalTierOptions): TierSettings {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('the local option must be an object such as { maxItems: 10_000 }')
  }
  if (shared.sync !== undefined) {
    throw new ConfigurationError(
      `the local option puts an in-memory tier in front of a shared storage; the ${shared.storageType} storage is in-process already`,
    )
  }
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS
  if (!Number.isSafeInteger(maxItems) || maxItems < 1) {
    throw new ConfigurationError(`local.maxItems must be a positive integer, got ${String(maxItems)}`)
  }
  const maxBytes = options.maxBytes
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
    throw new ConfigurationError(
      `local.maxBytes must be a positive integer number of bytes, got ${String(maxBytes)}`,
    )
  }
  const policy = options.policy ?? 'lru'
  if (policy !== 'lru' && policy !== 'tinylfu') {
    throw new ConfigurationError(`local.policy must be 'lru' or 'tinylfu', got ${JSON.stringify(policy)}`)
  }
  const fairness = fairnessLevel('local', options.fairness)
  if (fairness !== undefined && maxBytes !== undefined) {
    throw new ConfigurationError(
      `local.fairness shares local.maxItems between tenants; it cannot be combined with local.maxBytes yet: drop one of them`,
    )
  }
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new ConfigurationError(
      `local.ttlSeconds must be a positive number of seconds, got ${String(ttlSeconds)}`,
    )
  }
  timerMs(ttlSeconds * 1000, 'local.ttlSeconds (in ms)', '{ local: { ttlSeconds: 60 } }')
  const ownBus = options.bus === undefined
  const bus = ownBus ? shared.createBus?.() : options.bus === false ? undefined : options.bus
  if (bus !== undefined && (typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function')) {
    throw new ConfigurationError('local.bus must implement Bus (subscribe, publish, close), or be false')
  }
  const circuitBreaker = options.circuitBreaker ?? {}
  if (circuitBreaker !== false) breakerSettings(circuitBreaker)
  return { maxItems, maxBytes, policy, fairness, ttlMs: ttlSeconds * 1000, bus, ownBus, circuitBreaker }
}
