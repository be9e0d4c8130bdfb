/**
 * The argument checks of the `Cache` facade: every public method turns its arguments into entry refs,
 * scope paths and TTLs here, before anything is read or written. A bad argument is an
 * `InvalidArgumentError` (or a `ScopeError` from the scope configuration) naming the method and what to
 * pass instead; a closed cache is a `CacheClosedError` first, whatever the arguments.
 */
import type { SetManyEntry } from '../bulk-args.js'
import { checkEntries, checkKeys } from '../bulk-args.js'
import { ConfigurationError, InvalidArgumentError } from '../errors.js'
import { directKey } from '../keys/entry-key.js'
import type { ScopeStatsTracker } from '../observability/scope-stats.js'
import type { Operations } from '../operations/pipeline.js'
import type { ScopeConfig } from '../scopes/scope-config.js'
import { isWellFormed } from '../scopes/scope-config.js'
import { resolveOptions } from '../scopes/resolve.js'
import type { EntryRef, EntryWrite, ScopePath, SyncStorageOperations } from '../storage/contract.js'
import { ttlToMs } from '../ttl.js'
import { jittered, resolveJitter } from '../memoize/jitter.js'
import type { StatsQuery } from './options.js'

/** The options of reads and evictions besides the scope parameters. */
export const READ_OPTIONS: ReadonlySet<string> = new Set(['scope'])
/** The options of writes besides the scope parameters. */
export const WRITE_OPTIONS: ReadonlySet<string> = new Set(['scope', 'ttlSeconds', 'tags', 'ttlJitter'])

/** The TTL options of a write. */
interface WriteTtl {
  readonly ttlSeconds?: number
  readonly ttlJitter?: number
}

/** A write's `ttlJitter`, checked (0: none). */
const jitterOf = (options: WriteTtl | undefined): number =>
  options?.ttlJitter === undefined ? 0 : resolveJitter(options.ttlJitter, 'argument')

/** An operation's options as the scope configuration reads them. */
type RawOptions = Readonly<Record<string, unknown>> | undefined

/** The checks of one cache's arguments: its pipeline (open or closed), scopes, default TTL and tracker. */
export class FacadeArguments {
  readonly #ops: Operations
  readonly #scopes: ScopeConfig
  readonly #storageType: string
  /** TTL of writes that do not give one, in milliseconds; `undefined`: no expiry. */
  readonly defaultTtlMs: number | undefined
  readonly #tracker: ScopeStatsTracker | undefined

  constructor(
    ops: Operations,
    scopes: ScopeConfig,
    storageType: string,
    defaultTtlMs: number | undefined,
    tracker: ScopeStatsTracker | undefined,
  ) {
    this.#ops = ops
    this.#scopes = scopes
    this.#storageType = storageType
    this.defaultTtlMs = defaultTtlMs
    this.#tracker = tracker
  }

  /** The ref of `key` in the scope of `options`; option names outside `allowed` are a `ScopeError`. */
  ref(operation: string, key: string, options: object | undefined, allowed: ReadonlySet<string>): EntryRef {
    this.#ops.checkOpen(operation)
    if (typeof key !== 'string') {
      throw new InvalidArgumentError(
        `cache.${operation}(key): key must be a string, got ${key === null ? 'null' : typeof key}`,
      )
    }
    if (!isWellFormed(key)) {
      throw new InvalidArgumentError(
        `cache.${operation}(key): key must be well-formed Unicode; it contains a lone UTF-16 surrogate, which backends would store as U+FFFD`,
      )
    }
    return { scope: resolveOptions(this.#scopes, options as RawOptions, allowed), key: directKey(key) }
  }

  /** The refs of a bulk call's keys, all checked first (`unique`: repeated keys once). */
  refs(operation: string, keys: readonly string[], options: object | undefined, unique = false): EntryRef[] {
    this.#ops.checkOpen(operation)
    const list = checkKeys(operation, keys)
    const scope = resolveOptions(this.#scopes, options as RawOptions, READ_OPTIONS)
    return (unique ? [...new Set(list)] : list).map((key) => ({ scope, key: directKey(key) }))
  }

  /** The writes of a `setMany` call, all checked first. */
  writes(operation: string, entries: readonly SetManyEntry[], options: WriteTtl | undefined): EntryWrite[] {
    this.#ops.checkOpen(operation)
    if ((options as { tags?: unknown } | undefined)?.tags !== undefined) {
      throw new InvalidArgumentError(
        `cache.${operation}(entries, options): tags are not taken by bulk writes yet; write tagged entries with cache.set(key, value, { tags })`,
      )
    }
    const scope = resolveOptions(this.#scopes, options as RawOptions, WRITE_OPTIONS)
    const jitter = jitterOf(options)
    return checkEntries(operation, entries, this.#baseTtl(options)).map(({ key, value, ttlMs }) => ({
      ref: { scope, key: directKey(key) },
      value,
      ttlMs: jittered(ttlMs, jitter), // each entry its own factor
    }))
  }

  /** The scope path of `evictByScope(scope, params)`. */
  scopePath(operation: string, scope: string, params: unknown): ScopePath {
    this.#ops.checkOpen(operation)
    if (typeof scope !== 'string')
      throw new InvalidArgumentError(`cache.${operation}(scope): scope must be a scope name`)
    if (params !== undefined && (params === null || typeof params !== 'object')) {
      throw new InvalidArgumentError(
        `cache.${operation}(scope, params): params must be an object such as { orgId: 'o1' }`,
      )
    }
    return resolveOptions(this.#scopes, { ...(params as object | undefined), scope }, READ_OPTIONS)
  }

  /** The scope path of a selector such as `{ scope: 'organization', orgId: 'o1' }` (absent: global). */
  selected(operation: string, selector: object | undefined): ScopePath {
    this.#ops.checkOpen(operation)
    return resolveOptions(this.#scopes, selector as RawOptions, READ_OPTIONS)
  }

  /**
   * A write's TTL in milliseconds: its `ttlSeconds`, else the cache's default, else none; with
   * `ttlJitter`, times a random factor in `[1 - ttlJitter, 1]`.
   */
  ttl(options: WriteTtl | undefined): number | undefined {
    const ttl = this.#baseTtl(options)
    return options?.ttlJitter === undefined ? ttl : jittered(ttl, jitterOf(options))
  }

  #baseTtl(options: WriteTtl | undefined): number | undefined {
    const ttl = options?.ttlSeconds
    return ttl === undefined ? this.defaultTtlMs : ttlToMs(ttl)
  }

  /** The synchronous storage operations; a `ConfigurationError` naming the async twin if there are none. */
  requireSync(operation: string): SyncStorageOperations {
    const sync = this.#ops.sync
    if (sync === undefined) {
      throw new ConfigurationError(
        `${operation}() needs a synchronous storage such as InMemory; the ${this.#storageType} storage is async: use await cache.${operation.replace('Sync', '')}()`,
      )
    }
    return sync
  }

  /** Whether `stats()` was asked for the breakdown; a `ConfigurationError` if it is not tracked. */
  breakdownOf(operation: string, options: StatsQuery | undefined): boolean {
    if (options === undefined) return false
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(
        `cache.${operation}(options): options must be an object such as { breakdown: true }`,
      )
    }
    if (options.breakdown !== true) return false
    if (this.#tracker === undefined) {
      throw new ConfigurationError(
        `cache.${operation}({ breakdown: true }) needs per-scope tracking; create the cache with new Cache({ stats: { topN: 100 } })`,
      )
    }
    return true
  }
}
