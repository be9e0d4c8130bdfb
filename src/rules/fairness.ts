import { ConfigurationError } from '../errors.js'
import type { BoundPolicy, StorageProvider } from '../storage/contract.js'
import { checkFairnessLevel, fairnessLevel, PREFIX } from '../storage/fairness.js'

export type { Fairness } from '../storage/fairness.js'

/**
 * Refuses, with a {@link ConfigurationError}, a fair bound on a storage that does not choose victims
 * by fair share ({@link StorageProvider.supportsFairness}): the shared backends keep their cache-wide
 * bound in LRU or insertion order across every tenant.
 */
export function checkBoundFairness(
  bounds: readonly BoundPolicy[],
  storage: Pick<StorageProvider, 'storageType' | 'supportsFairness'>,
): void {
  if (storage.supportsFairness === true) return
  const fair = bounds.find((b) => b.fairness !== undefined)
  if (fair === undefined) return
  throw new ConfigurationError(
    `fairness: '${PREFIX}${fair.fairness!}' is not supported by the ${storage.storageType} storage (it is supported on the in-memory storage and on the local tier: local: { maxItems, fairness: '${PREFIX}${fair.fairness!}' }); use a per-${fair.fairness!} quota (per: '${fair.fairness!}') for a shared bound`,
  )
}

/** The `fairness` option of the `local` option, checked against the cache's levels (before any tier is made). */
export function checkLocalFairness(local: unknown, levels: readonly string[]): void {
  if (local === null || typeof local !== 'object') return
  const level = fairnessLevel('local', (local as { fairness?: unknown }).fairness)
  if (level !== undefined) checkFairnessLevel('local', level, levels)
}
