import { ConfigurationError } from '../errors.js'
import type { BoundOrder, BoundPolicy, StorageProvider } from '../storage/contract.js'
import type { Fairness } from './fairness.js'
import { fairnessLevel } from '../storage/fairness.js'

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

/**
 * {@link BoundOptions} checked: `maxItems` is `Number.POSITIVE_INFINITY` when only bytes are bounded;
 * `fairness` is the level (`'per-user'` -> `'user'`).
 */
export interface CheckedBoundOptions {
  readonly maxItems: number
  readonly maxBytes: number | undefined
  readonly sizeOf: ((value: unknown) => number) | undefined
  readonly per: string | undefined
  /** The level of `fairness`, if given. */
  readonly fairness: string | undefined
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
  const fairness = fairnessLevel(rule, options.fairness)
  if (fairness !== undefined && maxBytes !== undefined) {
    throw new ConfigurationError(
      `${rule}: fairness shares a count of entries (maxItems) between tenants; it cannot be combined with maxBytes yet. Use fairness with maxItems, or a per-tenant byte budget (maxBytes with per)`,
    )
  }
  if (fairness !== undefined && per !== undefined) {
    throw new ConfigurationError(
      `${rule}: fairness shares a cache-wide bound between tenants; it cannot be combined with per (each instance of '${per}' has its own bound already)`,
    )
  }
  return { maxItems: maxItems ?? Number.POSITIVE_INFINITY, maxBytes, sizeOf, per, fairness }
}

/** The {@link BoundPolicy} of a bounded rule (byte fields only when a byte budget is given). */
export function boundPolicy(
  rule: string,
  order: BoundOrder,
  reason: BoundPolicy['reason'],
  options: BoundOptions,
): BoundPolicy {
  const { maxItems, maxBytes, sizeOf, per, fairness } = checkBoundOptions(rule, options)
  const fair = fairness === undefined ? {} : { fairness }
  if (maxBytes === undefined) return { order, maxItems, per, reason, ...fair }
  return sizeOf === undefined
    ? { order, maxItems, maxBytes, per, reason, ...fair }
    : { order, maxItems, maxBytes, sizeOf, per, reason, ...fair }
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
