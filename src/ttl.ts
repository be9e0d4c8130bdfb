import { ConfigurationError, InvalidArgumentError } from './errors.js'

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
