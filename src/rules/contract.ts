import type { BoundPolicy, EntryRef, EvictionReason } from '../storage/contract.js'

/** An action a rule hook asks the cache to take after the operation that triggered it. */
export interface RuleEffect {
  readonly type: 'evict'
  /** The entry to remove; counted in stats under the reason `'rule'`. */
  readonly ref: EntryRef
}

/** Passed to {@link CacheRule.onGet}. */
export interface RuleGetEvent {
  readonly ref: EntryRef
  readonly hit: boolean
}

/** Passed to {@link CacheRule.onSet}. */
export interface RuleSetEvent {
  readonly ref: EntryRef
  /** The entry's time to live in milliseconds, `undefined` for none. */
  readonly ttlMs: number | undefined
}

/** Passed to {@link CacheRule.onEvict}. */
export interface RuleEvictEvent {
  /** The removed entry, when a single known entry was removed (not for scope evictions). */
  readonly ref: EntryRef | undefined
  readonly reason: EvictionReason
  /** How many entries were removed. */
  readonly count: number
  /** For `'scope'` evictions: the scope path that was removed (`[]` for everything). */
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
  onGet?(event: RuleGetEvent): readonly RuleEffect[] | void
  onSet?(event: RuleSetEvent): readonly RuleEffect[] | void
  onEvict?(event: RuleEvictEvent): void
  onClear?(): void
}
