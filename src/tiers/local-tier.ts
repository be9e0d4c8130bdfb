import type { EntryRef, Miss, ScopePath, StoredEntry } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { EntryTooLargeError } from '../errors.js'
import { MemoryStore } from '../storage/memory/store.js'
import { CopyPerHit, localCopy, NO_COPY } from './local-copy.js'
import { RaceGuard } from './race-guard.js'
import type { BusResetInfo } from './tier-options.js'

/**
 * L1 of a `TieredStorage`: the copies this process keeps (a bounded {@link MemoryStore}), and
 * when it may keep one.
 *
 * - A copy lives at most the local TTL, counted from when the write was sent or from the expiry the
 *   shared storage reported, never from when the answer was processed.
 * - A copy is kept only while the tier is live (the bus confirmed its subscription and no quiet period
 *   runs) and the {@link RaceGuard} saw no invalidation of it since its operation began.
 * - Every drop through `dropEntry`/`dropScope` is an invalidation for the race guard.
 */
export class LocalTier {
  readonly #store = new MemoryStore()
  readonly #ttlMs: number
  readonly #guard = new RaceGuard()
  readonly #onReset: (info: BusResetInfo) => void
  /**
   * Whether copies may be kept: no bus, or the bus confirmed its subscription (first `onReset`).
   * Before that, another process's message could be missed while a copy is kept.
   */
  #live: boolean
  /** Running while a quiet period after a (re)registration lasts (see {@link LocalTier.busReset}). */
  #quietTimer: NodeJS.Timeout | undefined
  /** Copies dropped when the quiet period began, reported by its `busReset` event. */
  #quietDropped = 0
  /** Whether L1 ever kept a {@link CopyPerHit} (until then a hit skips that check). */
  #copiesPerHit = false
  #closed = false

  /** `live`: copies may be kept from the start (no bus); `onReset`: every copy was dropped. */
  constructor(
    bound: {
      policy: 'lru' | 'tinylfu'
      maxItems: number
      maxBytes?: number | undefined
      fairness?: string | undefined
    },
    ttlMs: number,
    live: boolean,
    onReset: (info: BusResetInfo) => void,
  ) {
    const { policy, maxItems, maxBytes, fairness } = bound
    const reason = policy === 'lru' ? 'lru' : 'maxItems'
    const fair = fairness === undefined ? {} : { fairness }
    this.#store.configure({
      bounds: [
        maxBytes === undefined
          ? { order: policy, maxItems, reason, ...fair }
          : { order: policy, maxItems, maxBytes, reason, ...fair },
      ],
      onEvicted: () => undefined,
      wantsEvictedRefs: false,
    })
    this.#ttlMs = ttlMs
    this.#live = live
    this.#onReset = onReset
  }

  /** The copy of `ref`, or `MISS`. */
  get(ref: EntryRef): unknown {
    const local = this.#store.get(ref)
    // Copies are deep-frozen (see local-copy.ts), but binary data, Maps and Sets are copied for each
    // reader; the check is skipped until such a value was ever kept.
    return this.#copiesPerHit && local instanceof CopyPerHit ? local.copy() : local
  }

  /** The copy of `ref` with its expiry, or `MISS`. */
  getWithExpiry(ref: EntryRef): StoredEntry | Miss {
    const local = this.#store.getWithExpiry(ref)
    if (local === MISS) return MISS
    const value = this.#copiesPerHit && local.value instanceof CopyPerHit ? local.value.copy() : local.value
    return { value, expiresAt: local.expiresAt }
  }

  /** An operation on the shared storage starts (see {@link RaceGuard.begin}); pair it with `end`. */
  begin(): number {
    return this.#guard.begin()
  }

  /** The operation begun at `begin` ended. */
  end(): void {
    this.#guard.end()
  }

  /**
   * What a shared read that started at epoch `start` returns: a local copy is kept (with the entry's
   * expiry, capped at the local TTL) unless an invalidation touched the entry meanwhile; the reader
   * then gets the very frozen copy later hits return.
   */
  kept(ref: EntryRef, found: StoredEntry, start: number): unknown {
    if (this.#live && !this.#guard.invalidatedSince(ref, start)) {
      const ttlMs = found.expiresAt === undefined ? this.#ttlMs : found.expiresAt - Date.now()
      if (ttlMs > 0) {
        const { kept, returned } = localCopy(found.value, true)
        if (kept !== NO_COPY) this.#keep(ref, kept, Math.min(ttlMs, this.#ttlMs))
        return returned
      }
    }
    return found.value
  }

  /**
   * After a write sent at `sentAt` (ms) that began at epoch `start` stored: a frozen clone of `value`
   * (the caller may go on changing its own object), for the write's TTL capped at the local TTL,
   * unless an invalidation touched the entry meanwhile.
   */
  written(ref: EntryRef, value: unknown, ttlMs: number | undefined, sentAt: number, start: number): void {
    if (!this.#live || this.#guard.invalidatedSince(ref, start)) return
    const lifeMs = ttlMs === undefined ? this.#ttlMs : Math.min(ttlMs, this.#ttlMs)
    const leftMs = sentAt + lifeMs - Date.now()
    const kept = leftMs > 0 ? localCopy(value, false).kept : NO_COPY
    if (kept !== NO_COPY) this.#keep(ref, kept, leftMs)
  }

  /** Drops the copy of `ref` (an invalidation for the race guard); resolves whether there was one. */
  dropEntry(ref: EntryRef): boolean {
    this.#guard.entryDropped(ref)
    return this.#store.delete(ref)
  }

  /** Drops the copies in the scope at `path` (`[]`: all; an invalidation for the race guard). */
  dropScope(path: ScopePath): number {
    this.#guard.scopeDropped(path)
    return this.#store.evictScope(path)
  }

  /** Drops the copy of an entry found gone from the shared storage (nothing changed it: no invalidation). */
  forget(ref: EntryRef): void {
    this.#store.delete(ref)
  }

  /** Drops every copy (messages may have been lost), reported as a `busReset` for `reason`. */
  reset(reason: string): void {
    const dropped = this.dropScope([])
    this.#onReset({ reason, dropped })
  }

  /**
   * The bus (re)subscribed or may have lost messages: every copy goes. With `quietMs` (the bus
   * (re)registered this tier as a receiver), no copy is kept of anything read or written until it has
   * passed (writers may not have seen the registration yet, see `BUS_RECEIVER_TIMING`); the
   * `busReset` event comes once copies may be kept again.
   */
  busReset(reason: string, quietMs: number | undefined): void {
    if (quietMs === undefined || quietMs <= 0) {
      if (this.#quietTimer === undefined) this.#live = true
      this.reset(reason)
      return
    }
    this.#live = false
    this.#quietDropped += this.dropScope([])
    clearTimeout(this.#quietTimer)
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = undefined
      if (this.#closed) return
      // A flush: what was under way during the quiet period keeps no copy when it ends (race guard).
      const dropped = this.#quietDropped + this.dropScope([])
      this.#quietDropped = 0
      this.#live = true
      this.#onReset({ reason, dropped })
    }, quietMs)
    this.#quietTimer.unref()
  }

  /** Drops every copy without reporting it, and stops the quiet period's timer. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#quietTimer)
    this.#store.evictScope([])
  }

  /** Number of copies. */
  get size(): number {
    return this.#store.size()
  }

  /** Puts a copy made by `localCopy` into L1 for `ttlMs`. */
  #keep(ref: EntryRef, kept: unknown, ttlMs: number): void {
    if (kept instanceof CopyPerHit) this.#copiesPerHit = true
    try {
      this.#store.set(ref, kept, ttlMs)
    } catch (error) {
      // Larger than local.maxBytes: no local copy, and the older one (if any) must not be served.
      if (!(error instanceof EntryTooLargeError)) throw error
      this.#store.delete(ref)
    }
  }
}
