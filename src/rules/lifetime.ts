import { ConfigurationError } from '../errors.js'
import { timerMs } from '../ttl.js'
import type { CacheRule } from './contract.js'

/** Options of {@link LifeTimeEvict}. */
export interface LifeTimeEvictOptions {
  /** How often expired entries nobody reads are reclaimed, in seconds (default 1). */
  readonly sweepIntervalSeconds?: number
}

/**
 * Reclaims the memory of expired entries that nobody reads, with one timer per cache that does not keep
 * the process alive. TTLs hold without this rule too: an expired entry is never returned.
 */
export class LifeTimeEvict implements CacheRule {
  readonly name = 'LifeTimeEvict'
  readonly sweepIntervalMs: number

  constructor(options: LifeTimeEvictOptions = {}) {
    const seconds = options.sweepIntervalSeconds ?? 1
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new ConfigurationError(
        `LifeTimeEvict: sweepIntervalSeconds must be a positive number, got ${String(seconds)}`,
      )
    }
    this.sweepIntervalMs = timerMs(
      seconds * 1000,
      'LifeTimeEvict: sweepIntervalSeconds (in ms)',
      '{ sweepIntervalSeconds: 1 }',
    )
  }
}
