import { ConfigurationError, InvalidArgumentError } from './errors.js'

/**
 * The longest TTL any storage accepts: 100 years, in seconds. Every backend stores expiry times as
 * integer milliseconds since the epoch; this bound keeps them exact (below 2^53 in Redis's Lua numbers)
 * and inside the range of a JavaScript and BSON date, so one limit holds on every backend. For entries
 * that never expire, leave `ttlSeconds` out.
 */
export const MAX_TTL_SECONDS = 3_155_760_000

/**
 * The longest duration a Node timer can wait (2^31-1 ms, about 24.8 days); longer ones fire after 1 ms.
 * Options that arm timers (timeouts, lock TTLs, sweep intervals) are refused above it.
 */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * Converts `ttlSeconds` to milliseconds; it must be a positive finite number (fractions allowed).
 * `source` picks the error type: a bad TTL in configuration (cache or memoizer options) is a
 * `ConfigurationError`, in an operation's options an `InvalidArgumentError`.
 */
export function ttlToMs(
  ttlSeconds: unknown,
  name = 'ttlSeconds',
  source: 'configuration' | 'argument' = 'argument',
): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    const got = typeof ttlSeconds === 'number' ? String(ttlSeconds) : typeof ttlSeconds
    const message = `${name} must be a positive finite number of seconds (or left out for no expiry), got ${got}`
    throw source === 'configuration' ? new ConfigurationError(message) : new InvalidArgumentError(message)
  }
  return ttlSeconds * 1000
}
