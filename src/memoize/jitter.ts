import { ConfigurationError, InvalidArgumentError } from '../errors.js'
import type { OptionSource } from './write-options.js'

/**
 * Validates `ttlJitter`: a number `j` with `0 <= j < 1` (0: off). A stored TTL is multiplied by a random
 * factor in `[1 - j, 1]`: expiries of entries written together spread over the last `j` of their TTL,
 * and no entry lives longer than the TTL asked for.
 */
export function resolveJitter(value: unknown, source: OptionSource): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    const got = typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value
    const message = `ttlJitter must be a number from 0 (no jitter) up to but excluding 1, got ${got}; e.g. ttlJitter: 0.1 stores each TTL as 90% to 100% of itself`
    throw source === 'configuration' ? new ConfigurationError(message) : new InvalidArgumentError(message)
  }
  return value
}

/** `ttlMs` times a random factor in `[1 - jitter, 1]` (unchanged without jitter or TTL); at least 1 ms. */
export function jittered(ttlMs: number | undefined, jitter: number): number | undefined {
  if (jitter === 0 || ttlMs === undefined) return ttlMs
  return Math.max(Math.min(ttlMs, 1), ttlMs * (1 - jitter * Math.random()))
}
