import { ConfigurationError, InvalidArgumentError } from '../errors.js'
import { checkTags, MAX_TAGS_PER_ENTRY } from '../storage/tags.js'
import { ttlToMs } from '../ttl.js'

/** Where an option came from: configuration (`ConfigurationError`) or an operation's call (`InvalidArgumentError`). */
export type OptionSource = 'configuration' | 'argument'

const fail = (source: OptionSource, message: string): Error =>
  source === 'configuration' ? new ConfigurationError(message) : new InvalidArgumentError(message)

/**
 * Checks the tags of one write with the rules every tag goes through (`checkTags` of the storage
 * layer: at most `MAX_TAGS_PER_ENTRY` non-empty, printable, well-formed strings, duplicates dropped).
 * Answers a frozen copy (the caller's array may change later), or `undefined` for none.
 */
export function checkWriteTags(tags: unknown, name: string): readonly string[] | undefined {
  if (tags === undefined) return undefined
  const checked = checkTags(tags, MAX_TAGS_PER_ENTRY, name)
  return checked.length === 0 ? undefined : checked
}

/** The TTL a write's computed result gets, in ms: what a `ttlSeconds` function or `ctx.setTtl` answered. */
export function resultTtlMs(ttlSeconds: unknown, name: string): number {
  return ttlToMs(ttlSeconds, name, 'argument')
}

/** Refresh ahead and its backoff, validated and in milliseconds (0: off). */
export interface RefreshAhead {
  /** How long before expiry a hit starts a background refresh; 0: never. */
  readonly aheadMs: number
  /** How long a key's background refreshes pause after one failed; 0: retry on the next hit. */
  readonly backoffMs: number
}

/** Default pause after a failed refresh ahead, when `graceBackoffSeconds` is not given. */
export const DEFAULT_REFRESH_BACKOFF_MS = 5000

const positiveSeconds = (value: unknown, name: string, source: OptionSource): number => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw fail(source, `${name} must be a positive finite number of seconds, got ${describe(value)}`)
  }
  return value * 1000
}

/**
 * Validates `refreshAheadSeconds` and `graceBackoffSeconds`. `ttlMs` is the fixed TTL, `'dynamic'` for a
 * TTL chosen per result (then the refresh starts at `max(ttl - ahead, ttl / 2)` of each entry), or
 * `undefined` without one. Refresh ahead needs a TTL and, with a fixed one, must be shorter than it.
 */
export function resolveRefreshAhead(
  options: { readonly refreshAheadSeconds?: unknown; readonly graceBackoffSeconds?: unknown },
  ttlMs: number | 'dynamic' | undefined,
  source: OptionSource,
): RefreshAhead {
  const aheadMs =
    options.refreshAheadSeconds === undefined
      ? 0
      : positiveSeconds(options.refreshAheadSeconds, 'refreshAheadSeconds', source)
  if (aheadMs !== 0 && ttlMs === undefined) {
    throw fail(
      source,
      'refreshAheadSeconds needs a TTL: an entry without expiry is never refreshed ahead of it; set ttlSeconds, e.g. { ttlSeconds: 60, refreshAheadSeconds: 10 }',
    )
  }
  if (aheadMs !== 0 && typeof ttlMs === 'number' && aheadMs >= ttlMs) {
    throw fail(
      source,
      `refreshAheadSeconds (${aheadMs / 1000}) must be less than ttlSeconds (${ttlMs / 1000}): every hit would refresh; e.g. { ttlSeconds: 60, refreshAheadSeconds: 10 }`,
    )
  }
  const backoffMs =
    options.graceBackoffSeconds === undefined
      ? aheadMs !== 0
        ? DEFAULT_REFRESH_BACKOFF_MS
        : 0
      : positiveSeconds(options.graceBackoffSeconds, 'graceBackoffSeconds', source)
  return { aheadMs, backoffMs }
}

/** When an entry written at `now` with `ttlMs` is refreshed ahead: never before half its TTL. */
export function refreshAt(now: number, ttlMs: number, aheadMs: number): number {
  return now + Math.max(ttlMs - aheadMs, ttlMs / 2)
}

/** Most keys whose failed refresh is remembered; the oldest are forgotten past it. */
const MAX_BACKOFF_KEYS = 10_000

/**
 * Keys whose background refresh failed recently: until their pause ends, hits do not start another
 * one (a failing backend is not hammered once per hit). Bounded: past {@link MAX_BACKOFF_KEYS} keys the
 * oldest failure is forgotten (that key may be retried early, nothing worse).
 */
export class RefreshBackoff {
  readonly #until = new Map<string, number>()
  readonly #pauseMs: number

  constructor(pauseMs: number) {
    this.#pauseMs = pauseMs
  }

  /** Whether a refresh of `id` may start at `now`. */
  allows(id: string, now: number): boolean {
    if (this.#until.size === 0) return true
    const until = this.#until.get(id)
    if (until === undefined) return true
    if (now < until) return false
    this.#until.delete(id)
    return true
  }

  /** A refresh of `id` failed: pause its refreshes. */
  failed(id: string): void {
    if (this.#pauseMs === 0) return
    this.#until.delete(id)
    if (this.#until.size >= MAX_BACKOFF_KEYS) this.#until.delete(this.#until.keys().next().value!)
    this.#until.set(id, Date.now() + this.#pauseMs)
  }

  /** A refresh of `id` succeeded. */
  succeeded(id: string): void {
    if (this.#until.size !== 0) this.#until.delete(id)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number') return String(value)
  return Array.isArray(value) ? 'an array' : typeof value
}
