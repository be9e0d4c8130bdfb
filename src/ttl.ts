import { InvalidArgumentError } from './errors.js'

/** Converts `ttlSeconds` to milliseconds; it must be a positive finite number (fractions allowed). */
export function ttlToMs(ttlSeconds: unknown, name = 'ttlSeconds'): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    const got = typeof ttlSeconds === 'number' ? String(ttlSeconds) : typeof ttlSeconds
    throw new InvalidArgumentError(`${name} must be a positive finite number of seconds (or left out for no expiry), got ${got}`)
  }
  return ttlSeconds * 1000
}
