// Runs the shipped conformance suite under jest (test/testing/conformance-jest.test.ts starts it) for
// the provider named by CACHEADO_PROVIDER: `memory` (must pass), `colliding` or `shallow` (must fail).
// It imports `cacheado/testing` and jest's runner functions as a provider author's jest test would.
import { afterEach, describe, it } from '@jest/globals'
import { InMemory } from 'cacheado'
import type { StorageProvider } from 'cacheado/storage'
import { describeStorageConformance } from 'cacheado/testing'
import { CollidingStorage, ShallowEvictStorage } from '../testing/fixtures/broken-providers.js'

const factories: Record<string, () => StorageProvider> = {
  memory: () => new InMemory(),
  colliding: () => new CollidingStorage(),
  shallow: () => new ShallowEvictStorage(),
}
const provider = process.env.CACHEADO_PROVIDER ?? ''
const create = factories[provider]
if (create === undefined) throw new Error(`unknown CACHEADO_PROVIDER ${provider}`)
describeStorageConformance(provider, {
  create,
  runner: { describe, it, afterEach },
  propertyRuns: 30,
  seed: 7,
})
