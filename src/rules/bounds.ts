import { ConfigurationError } from '../errors.js'
import type { BoundOrder, BoundPolicy, StorageProvider } from '../storage/contract.js'

/** Options shared by the bounded rules: `maxItems`, `maxBytes`, or both (every given bound holds). */
export interface BoundOptions {
  /** The most entries allowed (per group when `per` is set): a positive integer. */
  readonly maxItems?: number
  /**
   * The most bytes the entries may take (per group when `per` is set): a positive safe integer. An
   * entry's size is its stored size: the serialized value's byte length on Redis and MongoDB;
   * `sizeOf(value)` or the estimate of `estimateSize` in memory and in the local tier. An entry larger
   * than the budget is refused with an `EntryTooLargeError`. See `docs/guide/byte-budgets.md`.
   */
  readonly maxBytes?: number
  /**
   * In-memory storages only: the size of a value in bytes (a finite number >= 0), instead of the
   * estimate. Called once per write under a byte budget; a throw or a bad number fails that write.
   */
  readonly sizeOf?: (value: unknown) => number
  /**
   * Bound each instance of this scope level separately, e.g. `'user'`: every user keeps at most
   * `maxItems` entries (its sessions' included), so one noisy tenant cannot evict the others.
   */
  readonly per?: string
}

/** {@link BoundOptions} checked: `maxItems` is `Number.POSITIVE_INFINITY` when only bytes are bounded. */
export interface CheckedBoundOptions {
  readonly maxItems: number
  readonly maxBytes: number | undefined
  readonly sizeOf: ((value: unknown) => number) | undefined
  readonly per: string | undefined
}

/** Checks {@link BoundOptions}; the message names the rule. */
export function checkBoundOptions(rule: string, options: BoundOptions | undefined): CheckedBoundOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`${rule} needs options, e.g. new ${rule}({ maxItems: 1000 })`)
  }
  const { maxItems, maxBytes, sizeOf, per } = options
  if (maxItems === undefined && maxBytes === undefined) {
    throw new ConfigurationError(
      `${rule} needs maxItems, maxBytes or both, e.g. new ${rule}({ maxItems: 1000 }) or new ${rule}({ maxBytes: 64 * 1024 * 1024 })`,
    )
  }
  if (
    maxItems !== undefined &&
    (typeof maxItems !== 'number' || !Number.isSafeInteger(maxItems) || maxItems < 1)
  ) {
    throw new ConfigurationError(`${rule}: maxItems must be a positive integer, got ${String(maxItems)}`)
  }
  if (
    maxBytes !== undefined &&
    (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 1)
  ) {
    throw new ConfigurationError(
      `${rule}: maxBytes must be a positive integer number of bytes, got ${String(maxBytes)}`,
    )
  }
  if (sizeOf !== undefined && typeof sizeOf !== 'function') {
    throw new ConfigurationError(`${rule}: sizeOf must be a function (value) => bytes, got ${typeof sizeOf}`)
  }
  if (sizeOf !== undefined && maxBytes === undefined) {
    throw new ConfigurationError(`${rule}: sizeOf only applies with maxBytes; add maxBytes or drop sizeOf`)
  }
  if (per !== undefined && (typeof per !== 'string' || per.length === 0 || per === 'global')) {
    throw new ConfigurationError(
      `${rule}: per must be the name of a scope level such as 'user', got ${JSON.stringify(per)}`,
    )
  }
  return { maxItems: maxItems ?? Number.POSITIVE_INFINITY, maxBytes, sizeOf, per }
}

/** The {@link BoundPolicy} of a bounded rule (byte fields only when a byte budget is given). */
export function boundPolicy(
  rule: string,
  order: BoundOrder,
  reason: BoundPolicy['reason'],
  options: BoundOptions,
): BoundPolicy {
  const { maxItems, maxBytes, sizeOf, per } = checkBoundOptions(rule, options)
  if (maxBytes === undefined) return { order, maxItems, per, reason }
  return sizeOf === undefined
    ? { order, maxItems, maxBytes, per, reason }
    : { order, maxItems, maxBytes, sizeOf, per, reason }
}

/**
 * Refuses, with a {@link ConfigurationError}, a byte budget (`maxBytes`) on a storage that does not
 * enforce them ({@link StorageProvider.supportsByteBounds}), and `sizeOf` on a shared storage, whose
 * sizes are the serialized byte lengths (the same in every process).
 */
export function checkByteBounds(
  bounds: readonly BoundPolicy[],
  storage: Pick<StorageProvider, 'storageType' | 'supportsByteBounds' | 'sync'>,
): void {
  for (const bound of bounds) {
    if (bound.maxBytes === undefined) continue
    const rule = RULE_OF_ORDER[bound.order] ?? 'a bound'
    if (storage.supportsByteBounds !== true) {
      throw new ConfigurationError(
        `${rule}: maxBytes is not enforced by the ${storage.storageType} storage; use maxItems there`,
      )
    }
    if (bound.sizeOf !== undefined && storage.sync === undefined) {
      throw new ConfigurationError(
        `${rule}: sizeOf applies to in-memory storages only; the ${storage.storageType} storage counts the serialized size, so drop sizeOf`,
      )
    }
  }
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
