import type { CacheError } from '../errors.js'
import { ConfigurationError, RuleError } from '../errors.js'
import { checkFairnessLevel } from '../storage/fairness.js'
import type { BoundPolicy, EntryRef } from '../storage/contract.js'
import type { CacheRule, RuleEffect, RuleEvictEvent } from './contract.js'

/**
 * Composes a list of rules. Semantics (documented in the README):
 * - every bound applies independently: an entry must satisfy all of them, and after each write every
 *   bound evicts, in list order, until it holds;
 * - the sweep interval is the shortest one requested;
 * - custom hooks run after the operation, in list order; their `evict` effects are applied in order;
 * - a hook that throws (or returns something other than a list of effects) is reported through
 *   `onError` as a {@link RuleError} and its effects are ignored: it never fails the operation that ran
 *   it, the other rules' hooks, or the storage's bound enforcement (evictions are reported to `onEvict`
 *   from inside the storage's bound loop).
 */
export class RuleEngine {
  readonly bounds: readonly BoundPolicy[]
  readonly sweepIntervalMs: number | undefined
  /** Whether any rule listens to evictions (then providers should report evicted refs). */
  readonly listensToEvictions: boolean
  /** Whether any rule has a get hook (lets the hot read path skip the call entirely). */
  readonly hasGetHooks: boolean
  /** Whether any rule has a set hook. */
  readonly hasSetHooks: boolean
  readonly #onGet: CacheRule[]
  readonly #onSet: CacheRule[]
  readonly #onEvict: CacheRule[]
  readonly #onClear: CacheRule[]
  readonly #onError: (error: CacheError) => void

  constructor(
    rules: readonly CacheRule[],
    isLevel: (name: string) => boolean,
    levelNames: readonly string[],
    onError: (error: CacheError) => void = () => undefined,
  ) {
    this.#onError = onError
    if (!Array.isArray(rules)) {
      throw new ConfigurationError('rules must be an array, e.g. rules: [new LRUEvict({ maxItems: 1000 })]')
    }
    for (const [i, rule] of rules.entries()) {
      if (rule === null || typeof rule !== 'object') {
        throw new ConfigurationError(
          `rules[${i}] is not a rule object; use new LRUEvict(...), new LifeTimeEvict(), ...`,
        )
      }
      const per = rule.bound?.per
      if (per !== undefined && !isLevel(per)) {
        throw new ConfigurationError(
          `${rule.name ?? `rules[${i}]`}: per: ${JSON.stringify(per)} is not a scope level of this cache (levels: ${levelNames.join(', ') || 'none'})`,
        )
      }
      const fairness = rule.bound?.fairness
      if (fairness !== undefined) checkFairnessLevel(rule.name ?? `rules[${i}]`, fairness, levelNames)
    }
    this.bounds = rules.flatMap((r) => (r.bound ? [r.bound] : []))
    if (this.bounds.filter((b) => b.order === 'tinylfu').length > 1) {
      throw new ConfigurationError(
        'a cache takes at most one TinyLFUEvict rule; combine it with LRUEvict or MaxItemsEvict for other bounds',
      )
    }
    const sweeps = rules.flatMap((r) => (r.sweepIntervalMs !== undefined ? [r.sweepIntervalMs] : []))
    this.sweepIntervalMs = sweeps.length ? Math.min(...sweeps) : undefined
    this.#onGet = rules.filter((r) => typeof r.onGet === 'function')
    this.#onSet = rules.filter((r) => typeof r.onSet === 'function')
    this.#onEvict = rules.filter((r) => typeof r.onEvict === 'function')
    this.#onClear = rules.filter((r) => typeof r.onClear === 'function')
    this.listensToEvictions = this.#onEvict.length !== 0
    this.hasGetHooks = this.#onGet.length !== 0
    this.hasSetHooks = this.#onSet.length !== 0
  }

  afterGet(ref: EntryRef, hit: boolean): RuleEffect[] {
    return this.#collect(this.#onGet, 'onGet', (rule) => rule.onGet!({ ref, hit }))
  }

  afterSet(ref: EntryRef, ttlMs: number | undefined): RuleEffect[] {
    return this.#collect(this.#onSet, 'onSet', (rule) => rule.onSet!({ ref, ttlMs }))
  }

  evicted(event: RuleEvictEvent): void {
    for (const rule of this.#onEvict) this.#run(rule, 'onEvict', () => rule.onEvict!(event))
  }

  cleared(): void {
    for (const rule of this.#onClear) this.#run(rule, 'onClear', () => rule.onClear!())
  }

  /** Runs one hook; what it throws is reported, never passed on. */
  #run<T>(rule: CacheRule, hook: string, call: () => T): T | undefined {
    try {
      return call()
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.#onError(new RuleError(ruleName(rule), hook, `threw: ${reason}`, { cause: error }))
      return undefined
    }
  }

  #collect(
    rules: CacheRule[],
    hook: string,
    run: (rule: CacheRule) => readonly RuleEffect[] | void,
  ): RuleEffect[] {
    const effects: RuleEffect[] = []
    for (const rule of rules) {
      const result = this.#run(rule, hook, () => run(rule))
      if (result === undefined) continue
      const problem = invalidEffects(result)
      if (problem !== undefined) {
        this.#onError(new RuleError(ruleName(rule), hook, problem))
        continue
      }
      effects.push(...result)
    }
    return effects
  }
}

/** A rule's name for messages, whatever its `name` holds. */
function ruleName(rule: CacheRule): string {
  return typeof rule.name === 'string' ? rule.name : String(rule.name)
}

/** What is wrong with a hook's result, or `undefined` when it is a list of valid effects. */
function invalidEffects(result: unknown): string | undefined {
  if (!Array.isArray(result)) {
    return `returned ${result === null ? 'null' : typeof result}; return an array of effects or nothing`
  }
  for (const effect of result as Partial<RuleEffect>[]) {
    if (effect?.type !== 'evict' || typeof effect.ref?.key !== 'string' || !Array.isArray(effect.ref.scope)) {
      return "returned an invalid effect; use { type: 'evict', ref }"
    }
  }
  return undefined
}
