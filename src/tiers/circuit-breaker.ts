import { CacheError, ConfigurationError, StorageError, TimeoutError } from '../errors.js'

/** Options of the circuit breaker around the shared storage (`local.circuitBreaker`). */
export interface CircuitBreakerOptions {
  /** Consecutive storage failures that open the circuit (a positive integer). Default 5. */
  readonly failureThreshold?: number
  /** How long the circuit stays open before one probe call is let through, in seconds. Default 5. */
  readonly openSeconds?: number
}

/** Payload of the cache's `circuitOpen` event. */
export interface CircuitOpenInfo {
  /** The shared storage's `storageType`, e.g. `'redis'`. */
  readonly storageType: string
  /** Consecutive failures seen (the threshold, or 1 when a probe failed). */
  readonly failures: number
  /** Milliseconds until the next probe. */
  readonly retryInMs: number
  /** The failure that opened (or re-opened) the circuit. */
  readonly error: unknown
}

/** Payload of the cache's `circuitClose` event. */
export interface CircuitCloseInfo {
  /** The shared storage's `storageType`, e.g. `'redis'`. */
  readonly storageType: string
  /** How long the circuit was open (or half-open), in milliseconds. */
  readonly openForMs: number
}

/** Where the breaker reports its transitions. */
export interface CircuitListener {
  readonly onOpen: (info: CircuitOpenInfo) => void
  readonly onClose: (info: CircuitCloseInfo) => void
}

const DEFAULT_THRESHOLD = 5
const DEFAULT_OPEN_SECONDS = 5

/** Checks and fills in {@link CircuitBreakerOptions}. */
export function breakerSettings(options: CircuitBreakerOptions): { threshold: number; openMs: number } {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(
      'local.circuitBreaker must be an object such as { failureThreshold: 5 } or false',
    )
  }
  const threshold = options.failureThreshold ?? DEFAULT_THRESHOLD
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new ConfigurationError(
      `local.circuitBreaker.failureThreshold must be a positive integer, got ${String(threshold)}`,
    )
  }
  const seconds = options.openSeconds ?? DEFAULT_OPEN_SECONDS
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new ConfigurationError(
      `local.circuitBreaker.openSeconds must be a positive number of seconds, got ${String(seconds)}`,
    )
  }
  return { threshold, openMs: seconds * 1000 }
}

/**
 * A circuit breaker around the calls to a shared storage.
 *
 * - closed: calls go through; `threshold` consecutive storage failures open the circuit. Errors that
 *   say nothing about the storage's health (one caller's bad input, see {@link countsAsFailure})
 *   neither count nor reset the count.
 * - open: calls fail at once with a `StorageError` (no I/O, no timeout) for `openMs`.
 * - half-open: the first call after that is a probe, the others still fail fast; a probe that succeeds
 *   closes the circuit, one that fails opens it again for `openMs`.
 *
 * The breaker has no timer of its own: time is read when a call comes.
 */
export class CircuitBreaker {
  readonly #storageType: string
  readonly #threshold: number
  readonly #openMs: number
  readonly #listener: CircuitListener
  #failures = 0
  /** 0 while closed; otherwise when the circuit opened. */
  #openedAt = 0
  #retryAt = 0
  #probing = false

  constructor(storageType: string, options: CircuitBreakerOptions, listener: CircuitListener) {
    const { threshold, openMs } = breakerSettings(options)
    this.#storageType = storageType
    this.#threshold = threshold
    this.#openMs = openMs
    this.#listener = listener
  }

  /** Whether calls are refused now (open, or half-open with a probe under way). */
  get isOpen(): boolean {
    return this.#openedAt !== 0 && (this.#probing || Date.now() < this.#retryAt)
  }

  /**
   * Runs `call` through the breaker. Never throws: a `call` that throws synchronously counts as a
   * failed call (rejected), so a probe can never leave the circuit half-open for good.
   */
  run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.#openedAt === 0) return attempt(call).then(this.#succeeded as (value: T) => T, this.#failed)
    if (this.#probing || Date.now() < this.#retryAt) return Promise.reject(this.#refusal(operation))
    this.#probing = true
    return attempt(call).then(
      (value) => {
        this.#probing = false
        this.#close()
        return value
      },
      (error: unknown) => {
        this.#probing = false
        if (counts(error)) this.#open(1, error)
        throw error
      },
    )
  }

  // Shared handlers of the closed state: no closure per call on the hot path.
  readonly #succeeded = (value: unknown): unknown => {
    this.#failures = 0
    return value
  }

  readonly #failed = (error: unknown): never => {
    if (counts(error) && ++this.#failures >= this.#threshold && this.#openedAt === 0) {
      this.#open(this.#failures, error)
    }
    throw error
  }

  #open(failures: number, error: unknown): void {
    const now = Date.now()
    if (this.#openedAt === 0) this.#openedAt = now
    this.#retryAt = now + this.#openMs
    this.#listener.onOpen({ storageType: this.#storageType, failures, retryInMs: this.#openMs, error })
  }

  #close(): void {
    const openForMs = Date.now() - this.#openedAt
    this.#openedAt = 0
    this.#failures = 0
    this.#listener.onClose({ storageType: this.#storageType, openForMs })
  }

  #refusal(operation: string): StorageError {
    const wait = Math.max(0, this.#retryAt - Date.now())
    return new StorageError(
      this.#storageType,
      operation,
      new Error(
        `circuit open after repeated failures of the shared storage; it is not called for ${wait} ms more (local copies are still served)`,
      ),
    )
  }
}

/** `call()`, with a synchronous throw turned into a rejection. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(call())
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Redis reply prefixes that do say the server is unwell (out of memory, loading, busy with a script,
 * no master, a read-only replica, a cluster that is down or resharding): these count.
 */
const UNHEALTHY_REPLY = /^(OOM|LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|NOREPLICAS|MISCONF)\b/

/**
 * Whether an error says the storage is unhealthy. Errors that are about one caller's input do not
 * count, wherever they sit in the `cause` chain (a backend may wrap them): cacheado's own errors other
 * than `StorageError` and `TimeoutError` (`InvalidArgumentError`, `SerializationError`, `ConfigurationError`, ...), a value the client
 * library could not encode (`BSONError`), and a Redis error reply other than the ones above (the
 * server answered, e.g. `ERR value is not an integer or out of range` for one caller's TTL).
 */
export function countsAsFailure(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (
      current instanceof CacheError &&
      !(current instanceof StorageError) &&
      !(current instanceof TimeoutError)
    )
      return false
    if (current.name === 'BSONError') return false
    if (current.name === 'ReplyError' && !UNHEALTHY_REPLY.test(current.message)) return false
    current = current.cause
  }
  return true
}

const counts = countsAsFailure
