import { ConfigurationError } from '../errors.js'
import type { Operations } from '../operations/pipeline.js'
import type { ScopeConfig } from '../scopes/scope-config.js'
import type { EntryLocks } from '../storage/contract.js'

/**
 * What a memoizer needs from its cache: plain data, no callbacks into the facade. Reads and writes go
 * through the cache's operation pipeline (`ops`), the same one `get` and `set` use (imports run
 * facade -> memoize -> operations, never back).
 */
export interface MemoHost {
  readonly ops: Operations
  readonly scopes: ScopeConfig
  /** Default TTL in milliseconds for memoized entries without their own. */
  readonly defaultTtlMs: number | undefined
  /** The storage's cross-process locks, if it has them. */
  readonly locks: EntryLocks | undefined
  /** The namespaces this cache's memoized functions already use (each may be used once). */
  readonly namespaces: Set<string>
}

/** Reserves a namespace; throws a `ConfigurationError` if this cache already has it. */
export function claimNamespace(host: MemoHost, namespace: string): void {
  if (host.namespaces.has(namespace)) {
    throw new ConfigurationError(
      `the memoization namespace ${JSON.stringify(namespace)} is already used in this cache; pass a distinct namespace option (e.g. "${namespace}2" or "Module.${namespace}"); to cache inline (e.g. in a request handler), wrap once at module level or use cache.getOrSet(key, factory)`,
    )
  }
  host.namespaces.add(namespace)
}
