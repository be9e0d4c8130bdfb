import { ConfigurationError } from '../errors.js'

/**
 * The `fairness` option of a cache-wide bound (`LRUEvict`, `MaxItemsEvict`, `TinyLFUEvict` without
 * `per`, and the local tier): `'per-<level>'`, e.g. `'per-organization'`. When the bound is full, the
 * entry evicted comes from the instance of that level (the tenant) holding the most entries of the
 * bound, i.e. the one furthest over its fair share (the bound divided by the tenants holding entries),
 * in that tenant's own eviction order. One tenant's burst then evicts its own entries, not a quiet
 * tenant's working set.
 */
export type Fairness = `per-${string}`

/** What every fairness value starts with. */
export const PREFIX = 'per-'

/**
 * Checks the form of a `fairness` option (`where` names it in the message) and returns its level
 * (`'per-user'` -> `'user'`), or `undefined` when absent. The level itself is checked against the
 * cache's scope levels by {@link checkFairnessLevel} once the cache is built.
 */
export function fairnessLevel(where: string, fairness: unknown): string | undefined {
  if (fairness === undefined) return undefined
  if (
    typeof fairness !== 'string' ||
    !fairness.startsWith(PREFIX) ||
    fairness.length === PREFIX.length ||
    fairness === `${PREFIX}global`
  ) {
    throw new ConfigurationError(
      `${where}: fairness must be 'per-<scope level>' such as 'per-organization', got ${safeJson(fairness)}`,
    )
  }
  return fairness.slice(PREFIX.length)
}

/**
 * Refuses, with a {@link ConfigurationError} listing the valid values, a fairness level that is not a
 * scope level of the cache (`levels`: its levels below global).
 */
export function checkFairnessLevel(where: string, level: string, levels: readonly string[]): void {
  if (levels.includes(level)) return
  const valid = levels.map((l) => `'${PREFIX}${l}'`).join(', ')
  throw new ConfigurationError(
    `${where}: fairness: '${PREFIX}${level}' names no scope level of this cache; valid values: ${valid || 'none (the cache has no level below global)'}`,
  )
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
