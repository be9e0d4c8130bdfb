import { ConfigurationError } from '../errors.js'

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
