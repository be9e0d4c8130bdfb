import { ConfigurationError } from '../errors.js'
import type { BoundOrder, BoundPolicy, StorageProvider } from '../storage/contract.js'
import type { Fairness } from './fairness.js'
import { fairnessLevel } from '../storage/fairness.js'

/** Options shared by the bounded rules. */
export interface BoundOptions {
  /** The most entries allowed (per group when `per` is set): a positive integer. */
  readonly maxItems: number
  /**
   * Bound each instance of this scope level separately, e.g. `'user'`: every user keeps at most
   * `maxItems` entries (its sessions' included), so one noisy tenant cannot evict the others.
   */
  readonly per?: string
  /**
   * Only on a cache-wide bound (without `per`): `'per-<level>'`, e.g. `'per-organization'`. When the
   * bound is full, evict from the instance of that level holding the most entries (the one furthest over
   * its fair share, the bound divided by the instances holding entries), in its own eviction order, so
   * one tenant's burst evicts its own entries rather than a quiet tenant's. Entries above that level
   * (e.g. global ones) count as one more tenant. In-process only: the in-memory storage (and the
   * `local` tier's own `fairness` option); a shared storage refuses it with a `ConfigurationError`.
   */
  readonly fairness?: Fairness
}

/** {@link BoundOptions} checked, with the fairness level (`'per-user'` -> `'user'`). */
export interface CheckedBound {
  readonly maxItems: number
  readonly per: string | undefined
  /** The level of `fairness`, if given. */
  readonly fairness: string | undefined
}

/** Checks {@link BoundOptions}; the message names the rule. */
export function checkBoundOptions(rule: string, options: BoundOptions | undefined): CheckedBound {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`${rule} needs options, e.g. new ${rule}({ maxItems: 1000 })`)
  }
  const { maxItems, per } = options
  if (typeof maxItems !== 'number' || !Number.isSafeInteger(maxItems) || maxItems < 1) {
    throw new ConfigurationError(`${rule}: maxItems must be a positive integer, got ${String(maxItems)}`)
  }
  if (per !== undefined && (typeof per !== 'string' || per.length === 0 || per === 'global')) {
    throw new ConfigurationError(
      `${rule}: per must be the name of a scope level such as 'user', got ${JSON.stringify(per)}`,
    )
  }
  const fairness = fairnessLevel(rule, options.fairness)
  if (fairness !== undefined && per !== undefined) {
    throw new ConfigurationError(
      `${rule}: fairness shares a cache-wide bound between tenants; it cannot be combined with per (each instance of '${per}' has its own bound already)`,
    )
  }
  return { maxItems, per, fairness }
}

/** Names the rule behind a bound order, for messages. */
const RULE_OF_ORDER: Record<BoundOrder, string> = {
  lru: 'LRUEvict',
  insertion: 'MaxItemsEvict',
  tinylfu: 'TinyLFUEvict',
}

/** Orders a provider enforces when it does not say (the ones every bounded provider had from the start). */
const CLASSIC_ORDERS: readonly BoundOrder[] = ['lru', 'insertion']

/**
 * Refuses, with a {@link ConfigurationError}, a bound whose order the storage does not enforce
 * ({@link StorageProvider.boundOrders}): e.g. `TinyLFUEvict` on Redis or MongoDB, whose bounds must hold
 * across processes and are kept as LRU or insertion order there.
 */
export function checkBoundOrders(
  bounds: readonly BoundPolicy[],
  storage: Pick<StorageProvider, 'storageType' | 'boundOrders'>,
): void {
  const supported = storage.boundOrders ?? CLASSIC_ORDERS
  for (const bound of bounds) {
    if (supported.includes(bound.order)) continue
    const rule = RULE_OF_ORDER[bound.order] ?? `a bound of order ${JSON.stringify(bound.order)}`
    const hint =
      bound.order === 'tinylfu'
        ? "use LRUEvict for the shared bound, and local: { maxItems, policy: 'tinylfu' } for a TinyLFU local tier"
        : `use one of ${supported.map((o) => RULE_OF_ORDER[o]).join(', ')}`
    throw new ConfigurationError(
      `${rule} is not enforced by the ${storage.storageType} storage (it keeps ${supported.join(', ')} bounds); ${hint}`,
    )
  }
}
