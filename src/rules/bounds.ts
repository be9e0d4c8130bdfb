import { ConfigurationError } from '../errors.js'
import type { BoundOrder, BoundPolicy, StorageProvider } from '../storage/contract.js'

/** Options shared by the bounded rules. */
export interface BoundOptions {
  /** The most entries allowed (per group when `per` is set): a positive integer. */
  readonly maxItems: number
  /**
   * Bound each instance of this scope level separately, e.g. `'user'`: every user keeps at most
   * `maxItems` entries (its sessions' included), so one noisy tenant cannot evict the others.
   */
  readonly per?: string
}

/** Checks {@link BoundOptions}; the message names the rule. */
export function checkBoundOptions(rule: string, options: BoundOptions | undefined): BoundOptions {
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
  return { maxItems, per }
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
