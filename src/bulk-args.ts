/**
 * Argument checks of the facade's bulk operations (`getMany`, `setMany`, `evictMany`): every key and
 * entry is checked before anything is read or written, so one bad key fails the whole call and nothing
 * is half-written.
 */
import { InvalidArgumentError } from './errors.js'
import { isWellFormed } from './scopes/scope-config.js'
import { ttlToMs } from './ttl.js'

/**
 * The most keys (or entries) one bulk call takes. Larger lists are refused with an
 * `InvalidArgumentError` (split them): a bulk call holds its whole answer in memory, and on Redis its
 * reads run as scripts of up to 1000 keys that block the server while they run.
 */
export const MAX_BULK_KEYS = 10_000

/** One entry of `cache.setMany(entries, options)`. */
export interface SetManyEntry {
  /** The entry's key in the scope of the call's options. */
  readonly key: string
  /** The value to store. */
  readonly value: unknown
  /** This entry's TTL in seconds; absent: the call's `ttlSeconds`, else the cache's default, else none. */
  readonly ttlSeconds?: number
}

const ENTRY_FIELDS: ReadonlySet<string> = new Set(['key', 'value', 'ttlSeconds'])

/** `list` as an array of at most {@link MAX_BULK_KEYS} items, or an `InvalidArgumentError`. */
function checkList(operation: string, what: string, list: unknown): readonly unknown[] {
  if (!Array.isArray(list)) {
    throw new InvalidArgumentError(
      `cache.${operation}(${what}): ${what} must be an array, got ${list === null ? 'null' : typeof list}`,
    )
  }
  if (list.length > MAX_BULK_KEYS) {
    throw new InvalidArgumentError(
      `cache.${operation}(${what}): at most ${MAX_BULK_KEYS} ${what} per call, got ${list.length}; split the list into several calls`,
    )
  }
  return list
}

/** Checks one key (`where` names it in the message). */
function checkKey(operation: string, key: unknown, where: string): string {
  if (typeof key !== 'string') {
    throw new InvalidArgumentError(
      `cache.${operation}: ${where} must be a string, got ${key === null ? 'null' : typeof key}; nothing was read or written`,
    )
  }
  if (!isWellFormed(key)) {
    throw new InvalidArgumentError(
      `cache.${operation}: ${where} must be well-formed Unicode; it contains a lone UTF-16 surrogate, which backends would store as U+FFFD; nothing was read or written`,
    )
  }
  return key
}

/** The keys of a bulk read or removal, all checked. */
export function checkKeys(operation: string, keys: unknown): readonly string[] {
  const list = checkList(operation, 'keys', keys)
  for (let i = 0; i < list.length; i++) checkKey(operation, list[i], `keys[${i}]`)
  return list as readonly string[]
}

/** A checked entry of `setMany`, its TTL resolved (`undefined`: no expiry). */
export interface CheckedEntry {
  readonly key: string
  readonly value: unknown
  readonly ttlMs: number | undefined
}

/**
 * The entries of `setMany`, all checked (shape, key, TTL), each TTL resolved against `defaultTtlMs`
 * (the call's `ttlSeconds`, else the cache's default).
 */
export function checkEntries(
  operation: string,
  entries: unknown,
  defaultTtlMs: number | undefined,
): CheckedEntry[] {
  const list = checkList(operation, 'entries', entries)
  return list.map((entry, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new InvalidArgumentError(
        `cache.${operation}: entries[${i}] must be an object such as { key: 'k', value: 1, ttlSeconds: 60 }; nothing was written`,
      )
    }
    for (const field of Object.keys(entry)) {
      if (!ENTRY_FIELDS.has(field)) {
        throw new InvalidArgumentError(
          `cache.${operation}: entries[${i}] has an unknown field ${JSON.stringify(field)}; an entry has key, value and ttlSeconds; nothing was written`,
        )
      }
    }
    const { key, value, ttlSeconds } = entry as Partial<SetManyEntry>
    checkKey(operation, key, `entries[${i}].key`)
    if (!('value' in entry)) {
      throw new InvalidArgumentError(
        `cache.${operation}: entries[${i}] has no value (to store undefined, say value: undefined); nothing was written`,
      )
    }
    const ttlMs = ttlSeconds === undefined ? defaultTtlMs : ttlToMs(ttlSeconds, `entries[${i}].ttlSeconds`)
    return { key: key!, value, ttlMs }
  })
}
