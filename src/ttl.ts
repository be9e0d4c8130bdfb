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
  if (ttlSeconds > MAX_TTL_SECONDS) {
    const message = `${name} must be at most ${MAX_TTL_SECONDS} seconds (100 years), got ${ttlSeconds}; leave ttlSeconds out for no expiry`
    throw source === 'configuration' ? new ConfigurationError(message) : new InvalidArgumentError(message)
  }
  return ttlSeconds * 1000
}

/**
 * Checks a duration option that arms a Node timer (a timeout, a lock TTL, a sweep interval): a positive
 * finite number of milliseconds, at most {@link MAX_TIMER_MS} (a longer timer would fire after 1 ms).
 * `min` is the smallest accepted value (0 for options where zero means "do not wait"). Returns it; a
 * `ConfigurationError` naming the option otherwise. `example` shows a valid setting in the message.
 */
export function timerMs(
  value: unknown,
  name: string,
  example: string,
  min: 0 | 'positive' = 'positive',
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (min === 'positive' ? value <= 0 : value < 0)) {
    const got = typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value
    const what = min === 'positive' ? 'a positive finite number' : 'a finite number of milliseconds >= 0'
    throw new ConfigurationError(`${name} must be ${what}, got ${got}; e.g. ${example}`)
  }
  if (value > MAX_TIMER_MS) {
    throw new ConfigurationError(
      `${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a Node timer can wait; longer ones fire at once), got ${value}; e.g. ${example}`,
    )
  }
  return value
}
