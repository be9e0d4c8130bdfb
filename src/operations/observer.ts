import type { CacheEvents, EvictEventReason, OperationOutcome, TimedOperation } from '../events.js'
import { parseEntryKey } from '../keys/entry-key.js'
import type { ScopeStatsTracker } from '../observability/scope-stats.js'
import { EVICTIONS, HITS, MISSES, SETS } from '../observability/top-k.js'
import type { EntryRef, ScopePath } from '../storage/contract.js'

/**
 * What the operation pipeline tells about each operation: timing (`operation` events), per-scope
 * tracking and entry events. The pipeline calls it unconditionally; while nobody listens it holds
 * {@link UNOBSERVED}, whose methods do nothing, so that the hot path carries no flag checks.
 *
 * `start` values: a `performance.now()` reading while operations are timed, -1 otherwise.
 */
export interface OperationObserver {
  /** The start of a timed operation, or -1. */
  start(): number
  /** A read answered (`hit`: it found a value), before rule hooks run. */
  read(ref: EntryRef, hit: boolean, start: number): void
  /** A write stored, before rule hooks run. */
  write(ref: EntryRef, ttlMs: number | undefined, start: number): void
  /** A timed operation ended (`start` -1: nothing to emit). */
  timed(operation: TimedOperation, start: number, outcome: OperationOutcome): void
  /** A timed operation failed; returns -1 so that it is not reported twice. */
  failed(operation: TimedOperation, start: number): number
  /** Entries removed; `key` undefined: a whole scope, or an entry the storage did not name. */
  eviction(
    reason: EvictEventReason | 'expired',
    count: number,
    scope: ScopePath | undefined,
    key: string | undefined,
  ): void
}

/** Where the pipeline's events go: the cache's own emitter. */
export interface EventSink {
  emit<E extends keyof CacheEvents>(event: E, ...args: CacheEvents[E]): void
  listenerCount(event: keyof CacheEvents): number
}

const none = (): number => -1
const nothing = (): void => undefined

/** The observer while nothing listens: every method is a no-op. */
export const UNOBSERVED: OperationObserver = Object.freeze({
  start: none,
  read: nothing,
  write: nothing,
  timed: nothing,
  failed: none,
  eviction: nothing,
})

/** Reports operations as the cache's events and to its per-scope tracker. */
export class EventObserver implements OperationObserver {
  readonly #events: EventSink
  readonly #tracker: ScopeStatsTracker | undefined
  /** Whether an `operation` listener exists: only then is the clock read. */
  readonly #timing: boolean

  constructor(events: EventSink, tracker: ScopeStatsTracker | undefined, timing: boolean) {
    this.#events = events
    this.#tracker = tracker
    this.#timing = timing
  }

  start(): number {
    return this.#timing ? performance.now() : -1
  }

  read(ref: EntryRef, hit: boolean, start: number): void {
    if (start >= 0) this.timed('get', start, hit ? 'hit' : 'miss')
    this.#tracker?.record(hit ? HITS : MISSES, ref.scope, ref.key, 1)
    const event = hit ? 'hit' : 'miss'
    if (this.#events.listenerCount(event) !== 0) {
      this.#events.emit(event, { scope: ref.scope, ...parseEntryKey(ref.key) })
    }
  }

  write(ref: EntryRef, ttlMs: number | undefined, start: number): void {
    if (start >= 0) this.timed('set', start, 'ok')
    this.#tracker?.record(SETS, ref.scope, ref.key, 1)
    if (this.#events.listenerCount('set') !== 0) {
      this.#events.emit('set', { scope: ref.scope, ...parseEntryKey(ref.key), ttlMs })
    }
  }

  timed(operation: TimedOperation, start: number, outcome: OperationOutcome): void {
    if (start < 0) return
    this.#events.emit('operation', { operation, outcome, durationMs: performance.now() - start })
  }

  failed(operation: TimedOperation, start: number): number {
    this.timed(operation, start, 'error')
    return -1
  }

  eviction(
    reason: EvictEventReason | 'expired',
    count: number,
    scope: ScopePath | undefined,
    key: string | undefined,
  ): void {
    if (scope !== undefined) this.#tracker?.record(EVICTIONS, scope, key, count)
    const entry = key === undefined ? { key: undefined, namespace: undefined } : parseEntryKey(key)
    if (reason === 'expired') {
      if (this.#events.listenerCount('expire') !== 0) this.#events.emit('expire', { count, scope, ...entry })
    } else if (this.#events.listenerCount('evict') !== 0) {
      this.#events.emit('evict', { reason, count, scope, ...entry })
    }
  }
}
