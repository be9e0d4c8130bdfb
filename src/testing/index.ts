/**
 * `cacheado/testing`: the storage conformance suite, for anyone who writes a storage provider.
 *
 * ```ts
 * import { describe, it, afterEach } from 'vitest' // or 'node:test', or jest's globals
 * import { describeStorageConformance } from 'cacheado/testing'
 *
 * describeStorageConformance('my storage', {
 *   create: () => new MyStorage({ prefix: crypto.randomUUID() }),
 *   runner: { describe, it, afterEach },
 * })
 * ```
 *
 * It needs no test library of its own: cases assert with `node:assert/strict`, and the property case
 * draws its inputs from a seeded generator (the seed is in every failure message).
 */
import type { CacheRule } from '../rules/contract.js'
import type { StorageProvider } from '../storage/contract.js'
import type { ConformanceCache } from './cache-cases.js'
import { cacheCases, conformanceScopes } from './cache-cases.js'
import { attachPlain, providerCases } from './provider-cases.js'
import { bulkCacheCases, bulkProviderCases } from './bulk-cases.js'
import { cacheTagCases, providerTagCases } from './tag-cases.js'
import { byteBudgetCases } from './byte-cases.js'
import { semaphoreCases } from './semaphore-cases.js'
import { flightCases } from './flight-cases.js'
import type { TestRunner } from './runner.js'
import { Cache } from '../cache.js'

export type { TestRunner } from './runner.js'
export { NASTY_CHARACTERS, nastyString, seededRandom } from './runner.js'
export type { ConformanceCache } from './cache-cases.js'
export { conformanceScopes } from './cache-cases.js'

/** Options of {@link describeStorageConformance}. */
export interface ConformanceOptions {
  /**
   * A new, empty storage each time. Two storages from one factory must share the backend (same server)
   * but not their entries (e.g. a fresh prefix or collection each), which is how the suite checks that
   * `clear()` touches only its own cache's entries.
   */
  readonly create: () => StorageProvider | Promise<StorageProvider>
  /** The test framework's `describe`, `it` and `afterEach`. */
  readonly runner: TestRunner
  /** Runs of the property-based isolation case (fewer for remote backends). Default 100. */
  readonly propertyRuns?: number
  /** Seed of the property case's inputs (replay a failure with the seed it printed). Default: random. */
  readonly seed?: number
}

/**
 * Declares the conformance suite for one storage provider: the cases through a `Cache` (values and
 * their types, misses, TTLs, scope eviction, tenant isolation whatever the characters of ids, bounds,
 * memoization), then the cases on the provider itself for each optional capability it offers (`sync`,
 * `getWithExpiry`, `getMany`/`setMany`/`deleteMany`, `list`, `locks` (and `locks.semaphores`), `createBus`/`setAndPublish`,
 * `fence`/`setFenced`, `invalidateTags`), and the bulk and inspection operations of the cache (`getMany`,
 * `setMany`, `evictMany`, `has`, `expiresAt`, `getWithMetadata`).
 */
export function describeStorageConformance(name: string, options: ConformanceOptions): void {
  const { runner } = options
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  runner.describe(`storage conformance: ${name}`, () => {
    const caches: ConformanceCache[] = []
    const storages: StorageProvider[] = []
    runner.afterEach(async () => {
      await Promise.allSettled([
        ...caches.splice(0).map((cache) => cache.close()),
        ...storages.splice(0).map((storage) => storage.close()),
      ])
    })
    const makeCache = async (rules: CacheRule[] = []): Promise<ConformanceCache> => {
      const storage = await options.create()
      try {
        const cache = new Cache({ scopes: conformanceScopes, storage, rules })
        caches.push(cache)
        return cache
      } catch (error) {
        storages.push(storage)
        throw error
      }
    }
    const cases = { makeCache, propertyRuns: options.propertyRuns ?? 100, seed }
    const open = async () => {
      const storage = attachPlain(await options.create())
      storages.push(storage)
      return storage
    }
    cacheCases(runner, cases)
    cacheTagCases(runner, cases)
    bulkCacheCases(runner, cases)
    byteBudgetCases(runner, cases)
    flightCases(runner, cases)
    providerCases(runner, { open })
    providerTagCases(runner, { open })
    bulkProviderCases(runner, { open })
    semaphoreCases(runner, { open })
  })
}
