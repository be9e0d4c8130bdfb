/**
 * The storage conformance suite, as our own provider tests run it: the shipped `cacheado/testing`
 * suite with vitest's hooks. A provider file only adds a factory:
 *
 *   describeStorageConformance('redis', { create: () => new RedisStorage({ url, prefix: unique() }) })
 *
 * `create()` must return a new, empty storage each time; two storages from one factory must share the
 * backend (same server) but not their entries, which is what `clear()` isolation is checked with.
 */
import fc from 'fast-check'
import { afterEach, describe, it } from 'vitest'
import type { StorageProvider } from '../../src/index.js'
import {
  conformanceScopes,
  describeStorageConformance as shipped,
  NASTY_CHARACTERS,
} from '../../src/testing/index.js'

export interface ConformanceOptions {
  /** A new, empty storage on the shared backend. */
  create: () => StorageProvider | Promise<StorageProvider>
  /** Runs of the property-based isolation test (fewer for remote backends). Default 100. */
  propertyRuns?: number
}

export const scopes = conformanceScopes

/** The shipped suite's hostile characters, for fast-check properties. */
export const nastyChar = fc.constantFrom(...NASTY_CHARACTERS)
export const nastyString = fc.string({ unit: nastyChar, maxLength: 6 })

export function describeStorageConformance(name: string, options: ConformanceOptions): void {
  shipped(name, { ...options, runner: { describe, it, afterEach } })
}
