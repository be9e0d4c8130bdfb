/**
 * Typed errors. Every error the library raises is a {@link CacheError}; the subclass says what kind of
 * mistake it was, and the message says what was wrong and how to fix it.
 */

/** Machine-readable kind of a {@link CacheError}. */
export type CacheErrorCode =
  | 'ERR_CACHEADO_CONFIGURATION'
  | 'ERR_CACHEADO_SCOPE'
  | 'ERR_CACHEADO_INVALID_ARGUMENT'
  | 'ERR_CACHEADO_SERIALIZATION'
  | 'ERR_CACHEADO_STORAGE'
  | 'ERR_CACHEADO_CLOSED'
  | 'ERR_CACHEADO_TIMEOUT'
  | 'ERR_CACHEADO_REFRESH'
  | 'ERR_CACHEADO_RULE'
  | 'ERR_CACHEADO_ENTRY_TOO_LARGE'
  | 'ERR_CACHEADO_OVERLOAD'

/** Base class of every error raised by cacheado. */
export class CacheError extends Error {
  /** Stable code for programmatic checks. */
  readonly code: CacheErrorCode

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** The cache, a rule, a storage or a memoized function was configured in a way that cannot work. */
export class ConfigurationError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CACHEADO_CONFIGURATION', message, options)
  }
}

/** A scope name is unknown, or a scope parameter is missing, unknown or of the wrong type. */
export class ScopeError extends CacheError {
  constructor(message: string) {
    super('ERR_CACHEADO_SCOPE', message)
  }
}

/** An argument of an operation is invalid (a key, a TTL, a memoized function's arguments). */
export class InvalidArgumentError extends CacheError {
  constructor(message: string) {
    super('ERR_CACHEADO_INVALID_ARGUMENT', message)
  }
}

/** A value cannot be serialized for a shared storage, or stored bytes cannot be read back. */
export class SerializationError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CACHEADO_SERIALIZATION', message, options)
  }
}

/** A storage backend failed; `cause` holds the backend's own error. */
export class StorageError extends CacheError {
  /** The `storageType` of the provider that failed, e.g. `'redis'`. */
  readonly storageType: string
  /** The storage operation that failed, e.g. `'get'`. */
  readonly operation: string

  constructor(storageType: string, operation: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super('ERR_CACHEADO_STORAGE', `${storageType} storage failed during ${operation}: ${reason}`, { cause })
    this.storageType = storageType
    this.operation = operation
  }
}

/** An operation was called after `cache.close()`. */
export class CacheClosedError extends CacheError {
  constructor(operation: string) {
    super(
      'ERR_CACHEADO_CLOSED',
      `cache.${operation}() was called after cache.close(); create a new Cache instead`,
    )
  }
}

/** Where a {@link TimeoutError} came from, besides its operation and limit. */
export interface TimeoutDetails {
  /** A memoized call's namespace (its `hardTimeoutMs` passed). */
  readonly namespace?: string
  /** The storage whose call timed out (`commandTimeoutMs`, `operationTimeoutMs`), e.g. `'redis'`. */
  readonly storageType?: string
}

/**
 * Something did not answer within its time limit. One error for every timeout: a memoized call past its
 * `hardTimeoutMs` (no usable cached value; the function keeps running and its result is stored when it
 * arrives), a Redis command past `commandTimeoutMs`, a MongoDB operation past `operationTimeoutMs`. The
 * message names the operation and the limit. A write that timed out may still be applied by the server.
 * A storage's timeout counts as a storage failure for the circuit breaker.
 */
export class TimeoutError extends CacheError {
  /** What timed out, e.g. `'memoize'`, `'redis command'`, `'mongodb get'`. */
  readonly operation: string
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number
  /** The memoized function's namespace, for a memoized call's `hardTimeoutMs`. */
  readonly namespace: string | undefined
  /** The storage that did not answer, for a storage's timeout. */
  readonly storageType: string | undefined

  /** `message` says what timed out, the limit, and what to do about it. */
  constructor(operation: string, timeoutMs: number, message: string, details: TimeoutDetails = {}) {
    super('ERR_CACHEADO_TIMEOUT', message)
    this.operation = operation
    this.timeoutMs = timeoutMs
    this.namespace = details.namespace
    this.storageType = details.storageType
  }
}

/** The {@link TimeoutError} of a storage call (Redis `commandTimeoutMs`, MongoDB `operationTimeoutMs`). */
export function storageTimeout(
  storageType: string,
  operation: string,
  option: string,
  timeoutMs: number,
): TimeoutError {
  return new TimeoutError(
    `${storageType} ${operation}`,
    timeoutMs,
    `${storageType} ${operation} did not finish within ${option} (${timeoutMs} ms); is the server reachable? A write that timed out may still be applied`,
    { storageType },
  )
}

/**
 * A background refresh (of a stale memoized value, or ahead of expiry) failed (the function threw or rejected); emitted as an
 * `error` event while the stale value keeps being served within the grace period. `cause` holds the
 * function's error.
 */
export class RefreshError extends CacheError {
  /** The memoized function's namespace. */
  readonly namespace: string

  /**
   * `served`: what callers get meanwhile (default: the stale value, in grace); `subject`: what was
   * refreshed (default: the memoized function).
   */
  constructor(
    namespace: string,
    cause: unknown,
    served = 'the stale value is served until its grace period ends',
    subject = `memoized ${namespace}`,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super('ERR_CACHEADO_REFRESH', `the background refresh of ${subject} failed: ${reason}; ${served}`, {
      cause,
    })
    this.namespace = namespace
  }
}

/**
 * A custom rule's hook threw, or returned something that is not a list of effects. Emitted as an
 * `error` event (operation `'rule'`): the operation that ran the hook, the other rules and the storage's
 * bounds are unaffected. `cause` holds what the hook threw.
 */
export class RuleError extends CacheError {
  /** The rule's `name`. */
  readonly rule: string
  /** The hook that failed, e.g. `'onEvict'`. */
  readonly hook: string

  constructor(rule: string, hook: string, reason: string, options?: { cause?: unknown }) {
    super(
      'ERR_CACHEADO_RULE',
      `rule ${rule}: ${hook} ${reason}; the rule's effects of this call are ignored`,
      options,
    )
    this.rule = rule
    this.hook = hook
  }
}

/**
 * A write was refused because the entry alone is larger than a byte budget (`maxBytes` of a bound
 * rule or of the local tier) that covers it: it could never be kept, so it is not stored at all (never
 * stored and then dropped). The write changes nothing: an entry already stored under the key stays.
 * Memoized calls and `getOrSet` do not throw it: they return the computed value without storing it
 * and report the refusal as an `error` event (see `docs/guide/byte-budgets.md`).
 */
export class EntryTooLargeError extends CacheError {
  /** The entry's stored size in bytes (serialized size on shared storages, estimate or `sizeOf` in memory). */
  readonly size: number
  /** The budget it exceeds, in bytes. */
  readonly maxBytes: number

  constructor(size: number, maxBytes: number, where: string) {
    super(
      'ERR_CACHEADO_ENTRY_TOO_LARGE',
      `the entry takes ${size} bytes, more than the ${maxBytes}-byte budget of ${where}; it was not stored. Store a smaller value, raise maxBytes, or cache this key without the budget`,
    )
    this.size = size
    this.maxBytes = maxBytes
  }
}

/**
 * A memoized call or `cache.getOrSet` found its tenant's bulkhead (`maxConcurrent`) full: `limit`
 * factory runs of that tenant were under way and no slot freed within the call's `hardTimeoutMs` (at
 * once without one), and no stale value was available. Nothing ran and nothing was stored; the caller
 * may retry later. The message names the tenant's level and id, the limit, and how to change it.
 */
export class OverloadError extends CacheError {
  /** The memoized function's namespace, or `'getOrSet'`. */
  readonly namespace: string
  /** The scope level the bulkhead is per (`maxConcurrent.per`), e.g. `'organization'`. */
  readonly level: string
  /** The id of the tenant at that level (`undefined` for `'global'`). */
  readonly tenant: string | undefined
  /** The bulkhead's limit (`maxConcurrent.limit`). */
  readonly limit: number
  /** How long the call waited for a slot, in milliseconds (0: it did not wait). */
  readonly waitedMs: number

  constructor(namespace: string, level: string, tenant: string | undefined, limit: number, waitedMs: number) {
    const who = tenant === undefined ? `the ${level} scope` : `${level} ${JSON.stringify(tenant)}`
    super(
      'ERR_CACHEADO_OVERLOAD',
      `${namespace}: ${who} already has ${limit} factory run(s) under way (maxConcurrent: { per: '${level}', limit: ${limit} }) and no slot freed ${waitedMs === 0 ? 'at once (no hardTimeoutMs to wait)' : `within hardTimeoutMs (${waitedMs} ms)`}; retry later, raise maxConcurrent.limit, set hardTimeoutMs to wait for a slot, or add graceSeconds so a stale value is served`,
    )
    this.namespace = namespace
    this.level = level
    this.tenant = tenant
    this.limit = limit
    this.waitedMs = waitedMs
  }
}
