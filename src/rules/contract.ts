import type { BoundPolicy, EntryRef, EvictionReason } from '../storage/contract.js'

/** An action a rule hook asks the cache to take after the operation that triggered it. */
export interface RuleEffect {
  /** The only effect so far: remove an entry. */
  readonly type: 'evict'
  /** The entry to remove; counted in stats under the reason `'rule'`. */
  readonly ref: EntryRef
}

/** Passed to {@link CacheRule.onGet}. */
export interface RuleGetEvent {
  /** The entry that was read (scope path and key). */
  readonly ref: EntryRef
  /** Whether the read found a value (a stored `undefined` or `null` is a hit). */
  readonly hit: boolean
}

/** Passed to {@link CacheRule.onSet}. */
export interface RuleSetEvent {
  /** The entry that was written (scope path and key). */
  readonly ref: EntryRef
  /** The entry's time to live in milliseconds, `undefined` for none. */
  readonly ttlMs: number | undefined
}

/** Passed to {@link CacheRule.onEvict}. */
export interface RuleEvictEvent {
  /** The removed entry, when a single known entry was removed (not for scope evictions). */
  readonly ref: EntryRef | undefined
  /**
   * Why: `'explicit'` (delete), `'scope'`, `'expired'`, `'lru'`, `'maxItems'`, `'rule'` (a hook's effect)
   * or `'tag'` (`invalidateTags`).
   */
  readonly reason: EvictionReason
  /** How many entries were removed. */
  readonly count: number
  /** For `'scope'` and `'tag'` evictions: the scope path that was removed or invalidated (`[]`: everything). */
  readonly scope?: EntryRef['scope']
}

/**
 * A storage rule. Built-in rules declare a {@link BoundPolicy} (or a sweep interval) that the storage
 * enforces where the data lives; custom rules implement hooks, which run in this process, synchronously,
 * after the operation, in the order the rules were given. Hooks see only this process's operations.
 */
export interface CacheRule {
  /** Name used in error messages. */
  readonly name: string
  /** A bound the storage enforces natively (built-in rules). */
  readonly bound?: BoundPolicy
  /** Asks the storage to reclaim expired entries at this interval (milliseconds). */
  readonly sweepIntervalMs?: number
  /**
   * After every read of this process (hit or miss), synchronously. May return effects (entries to
   * evict), applied in order after the read. A hook that throws or returns something else is reported
   * through the cache's `onError` as a `RuleError` and its effects are ignored; the read still succeeds.
   */
  onGet?(event: RuleGetEvent): readonly RuleEffect[] | void
  /**
   * After every write of this process, synchronously, once the value is stored. May return effects, as
   * {@link CacheRule.onGet} does, with the same error handling.
   */
  onSet?(event: RuleSetEvent): readonly RuleEffect[] | void
  /**
   * After entries were removed: deletes, scope evictions, expiries noticed here and the bounds'
   * evictions (reported from inside the storage's bound loop, with the ref when the provider knows it).
   * Errors are reported through `onError`, never to the operation.
   */
  onEvict?(event: RuleEvictEvent): void
  /** After `cache.clear()` removed everything of this cache; errors are reported through `onError`. */
  onClear?(): void
}
