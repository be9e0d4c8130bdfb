import type { Bus, Invalidation } from '../storage/contract.js'
import type { CircuitBreakerOptions, CircuitCloseInfo, CircuitOpenInfo } from './circuit-breaker.js'

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
