import type { CacheError } from '../errors.js'
import {
  CacheClosedError,
  CacheError as BaseError,
  ConfigurationError,
  InvalidArgumentError,
  StorageError,
} from '../errors.js'
import type { TimedOperation } from '../events.js'
import type { RuleEffect } from '../rules/contract.js'
import type { RuleEngine } from '../rules/engine.js'
import { StatsCounter } from '../stats.js'
import type {
  AutomaticEvictionReason,
  EntryHandle,
  EntryRef,
  Miss,
  ScopePath,
  StorageProvider,
  StoredEntry,
  SyncStorageOperations,
  WriteFence,
  WriteOptions,
} from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { encodeEntryRef, encodeScopePath } from '../storage/key-encoding.js'
import { checkTags, MAX_TAGS_PER_ENTRY, MAX_TAGS_PER_INVALIDATION } from '../storage/tags.js'
import type { EventSink, OperationObserver } from './observer.js'
import { UNOBSERVED } from './observer.js'
import { refreshFlightId, SingleFlight } from './single-flight.js'

/**
 * An in-process tier in front of the storage: `peek` answers its copies synchronously (`MISS` when it
 * has none), and `fill` is the storage read to make after a `peek` missed (it does not look again).
 */
export interface LocalTier {
  /** The local copy of `ref`, or `MISS`; synchronous. */
  peek(ref: EntryRef): unknown
  /** Reads the shared storage after `peek` missed (and keeps a local copy when it may). */
  fill(ref: EntryRef): Promise<unknown>
  /** Optional: `peek` with the copy's expiry (for `getWithMetadata`). */
  peekEntry?(ref: EntryRef): StoredEntry | Miss
}

/** What the pipeline runs on. */
export interface PipelineParts {
  /** What operations call: the storage, or the two tiers in front of it. */
  readonly store: StorageProvider
  /** The local tier inside `store`, when there is one (its hits are answered without a promise). */
  readonly local: LocalTier | undefined
  /** The cache's rules: their hooks run after each operation, their effects through the pipeline. */
  readonly rules: RuleEngine
  /** Where `error` events go. */
  readonly events: EventSink
  /** The storage's `storageType`, for errors. */
  readonly storageType: string
}

/** An entry ref with the storage handle last taken for it (see {@link Operations.readSyncCached}). */
export interface HandleSlot {
  readonly ref: EntryRef
  /** The handle, or undefined before the first read or while there was no entry. */
  handle: EntryHandle | undefined
}

/** {@link Operations.readNow}'s answer when the value needs I/O: call {@link Operations.fetch}. */
export const LATER: unique symbol = Symbol('cacheado.later')

/**
 * The one operation pipeline under both the facade and the memoizer: storage call, fail-open, stats,
 * observation, rule effects and flight invalidation, for reads, writes and evictions alike.
 *
 * `failOpen`: a storage error is reported as an `error` event and the operation goes on (a read as a
 * miss, a write as not stored) instead of rejecting with a `StorageError` (the memoizer's mode).
 */
export class Operations {
  /** What operations call: the storage, or the two tiers in front of it (the only read path). */
  readonly store: StorageProvider
  /** The storage's synchronous side, when it has one (then every operation runs synchronously). */
  readonly sync: SyncStorageOperations | undefined
  /** The counters of `stats()`, counted here for every operation, observed or not. */
  readonly stats = new StatsCounter()
  /** Running computations of memoized calls, keyed by encoded entry ref. */
  readonly flights = new SingleFlight()
  /** The storage's `storageType`, for errors. */
  readonly storageType: string
  /**
   * Who hears about operations; {@link UNOBSERVED} while nobody listens. The cache swaps it when its
   * listeners change. Each operation reads it once, at its start. The read and write paths compare it
   * with {@link UNOBSERVED} before calling it: in a process where some caches are observed, the call
   * sites see several observer classes and V8 stops inlining them, and the unobserved caches' hits
   * must not pay for that (measured with `npm run bench -- memory:observe`).
   */
  observer: OperationObserver = UNOBSERVED
  /**
   * The store's `fence`, when results of computations can be written fenced (an async storage with
   * `fence` and `setFenced`, see {@link Operations.write}); undefined otherwise. May reject.
   */
  readonly fence: ((ref: EntryRef) => Promise<WriteFence>) | undefined
  readonly #local: LocalTier | undefined
  readonly #rules: RuleEngine
  readonly #events: EventSink
  #closed = false

  constructor(parts: PipelineParts) {
    this.store = parts.store
    this.sync = parts.store.sync
    this.#local = parts.local
    this.#rules = parts.rules
    this.#events = parts.events
    this.storageType = parts.storageType
    const store = parts.store
    this.fence =
      this.sync === undefined && typeof store.setFenced === 'function' ? store.fence?.bind(store) : undefined
  }

  /** Whether {@link Operations.close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** Throws a `CacheClosedError` after {@link Operations.close}. */
  checkOpen(operation: string): void {
    if (this.#closed) throw new CacheClosedError(operation)
  }

  /** Refuses later operations and closes the store (its timers and connections). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.store.close()
  }

  /**
   * A read answered without I/O (a synchronous storage, or a hit of the local tier), counted and
   * observed; {@link LATER} when the storage must be asked (then {@link Operations.fetch}).
   */
  readNow(ref: EntryRef, failOpen: boolean): unknown {
    if (this.sync !== undefined) return this.readSync(ref, failOpen)
    if (this.#local === undefined) return LATER
    const value = this.#local.peek(ref)
    if (value === MISS) return LATER
    const observer = this.observer
    return this.#afterRead(ref, value, observer === UNOBSERVED ? -1 : observer.start(), observer)
  }

  /** A read of a synchronous storage. */
  readSync(ref: EntryRef, failOpen: boolean): unknown {
    const observer = this.observer
    let start = observer === UNOBSERVED ? -1 : observer.start()
    let value: unknown
    try {
      value = this.sync!.get(ref)
    } catch (error) {
      start = observer.failed('get', start)
      value = this.#readFailed(error, failOpen)
    }
    return this.#afterRead(ref, value, start, observer)
  }

  /**
   * {@link Operations.readSync} of `slot.ref` through the storage handle kept in `slot`: a hit skips the
   * key lookup. A missing or stale handle (its entry removed, by any path) is replaced by a new one
   * taken by ref, so the answer is always what `readSync(slot.ref)` would answer; one read is counted.
   */
  readSyncCached(slot: HandleSlot, failOpen: boolean): unknown {
    const sync = this.sync!
    if (sync.getByHandle === undefined || sync.handleOf === undefined)
      return this.readSync(slot.ref, failOpen)
    const observer = this.observer
    let start = observer === UNOBSERVED ? -1 : observer.start()
    let value: unknown
    try {
      const handle = slot.handle
      value = handle === undefined ? MISS : sync.getByHandle(handle)
      if (value === MISS) {
        const renewed = (slot.handle = sync.handleOf(slot.ref))
        if (renewed !== undefined) value = sync.getByHandle(renewed)
      }
    } catch (error) {
      start = observer.failed('get', start)
      value = this.#readFailed(error, failOpen)
    }
    return this.#afterRead(slot.ref, value, start, observer)
  }

  /** The read that {@link Operations.readNow} left for later: asks the storage (past the local tier). */
  fetch(ref: EntryRef, failOpen: boolean): Promise<unknown> {
    const observer = this.observer
    let start = observer === UNOBSERVED ? -1 : observer.start()
    // A `then` chain rather than an async function: one promise hop less on every read.
    let pending: Promise<unknown>
    try {
      pending = this.#local !== undefined ? this.#local.fill(ref) : this.store.get(ref)
    } catch (error) {
      // A provider that throws instead of rejecting is handled like one that rejects.
      pending = Promise.reject(error)
    }
    return pending.then(
      (value) => this.#afterRead(ref, value, start, observer),
      (error: unknown) => {
        start = observer.failed('get', start)
        return this.#afterRead(ref, this.#readFailed(error, failOpen), start, observer)
      },
    )
  }

  /**
   * Reads without counting a hit or miss, without rules or observation (a lock waiter polling for
   * another process's result), through the same store as every read; a storage error is reported
   * and reads as a miss.
   */
  async peek(ref: EntryRef): Promise<unknown> {
    try {
      return this.sync !== undefined ? this.sync.get(ref) : await this.store.get(ref)
    } catch (error) {
      this.report('get', error)
      return MISS
    }
  }

  /** A write to a synchronous storage; `options`: its tags (checked, see {@link Operations.checkTagged}). */
  writeSync(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    failOpen: boolean,
    options?: WriteOptions,
  ): void {
    const observer = this.observer
    const start = observer === UNOBSERVED ? -1 : observer.start()
    try {
      this.sync!.set(ref, value, ttlMs, options)
    } catch (error) {
      observer.failed('set', start)
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWrite(ref, ttlMs, start, observer)
  }

  /**
   * A write to the storage. `fence`: a memoized result, written through `setFenced` (a refused write is
   * neither counted nor an error). `options`: its tags (checked, see {@link Operations.checkTagged}).
   */
  async write(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    failOpen: boolean,
    fence?: WriteFence,
    options?: WriteOptions,
  ): Promise<void> {
    const observer = this.observer
    const start = observer === UNOBSERVED ? -1 : observer.start()
    try {
      if (fence === undefined) await this.store.set(ref, value, ttlMs, options)
      else if (!(await this.store.setFenced!(ref, value, ttlMs, fence, undefined, options))) return
    } catch (error) {
      observer.failed('set', start)
      return this.#writeFailed(error, failOpen)
    }
    this.#afterWrite(ref, ttlMs, start, observer)
  }

  /**
   * Removes one entry (synchronously over a synchronous storage); answers whether there was one.
   * Running computations of the entry (its flight, a getOrSet refresh `<id>#refresh`, and `flights`:
   * other flight ids that store into it, e.g. a memoized refresh) are detached when it starts and when
   * it ends, so none stores after it; when one's write had already started (it may land after the
   * removal), it is waited for and the entry removed again before the eviction resolves.
   */
  delete(ref: EntryRef, flights: readonly string[] = []): boolean | Promise<boolean> {
    const id = encodeEntryRef(ref)
    const ids = [id, refreshFlightId(id), ...flights]
    if (this.sync !== undefined) {
      const sync = this.sync
      this.#detach(ids) // (a sync store wrote at once: nothing to wait for)
      return this.#afterDelete(
        ref,
        this.runSync('evict', () => sync.delete(ref), true),
      )
    }
    return this.#deleteDetached(ref, ids).then((removed) => this.#afterDelete(ref, removed))
  }

  /** The asynchronous side of {@link Operations.delete}. */
  async #deleteDetached(ref: EntryRef, ids: readonly string[]): Promise<boolean> {
    let storing = this.#detach(ids)
    let removed = await this.run('evict', () => this.store.delete(ref), true)
    storing.push(...this.#detach(ids))
    for (let round = 0; storing.length !== 0 && round < 3; round++) {
      await Promise.all(storing)
      if (await this.run('evict', () => this.store.delete(ref), true)) removed = true
      storing = this.#detach(ids)
    }
    return removed
  }

  /** Detaches the flights `ids`; answers the stores they had already started. */
  #detach(ids: readonly string[]): Promise<unknown>[] {
    const storing: Promise<unknown>[] = []
    for (const id of ids) {
      const started = this.flights.invalidateExact(id)
      if (started !== undefined) storing.push(started)
    }
    return storing
  }

  /**
   * Removes a scope and its descendants (synchronously over a synchronous storage). Running
   * computations of the scope are detached when the eviction starts (their result may land between
   * its round trips), not only once it resolved, and again when it ends.
   */
  evictScope(path: ScopePath): number | Promise<number> {
    this.flights.invalidate(encodeScopePath(path))
    if (this.sync !== undefined) {
      const sync = this.sync
      return this.#afterScopeEviction(
        path,
        this.runSync('evictByScope', () => sync.evictScope(path), true),
      )
    }
    return this.run('evictByScope', () => this.store.evictScope(path), true).then((removed) =>
      this.#afterScopeEviction(path, removed),
    )
  }

  /**
   * Throws a `ConfigurationError` when the storage cannot keep tags (no `invalidateTags`); `operation`
   * names the call in the message. Checked before any tagged write or invalidation is sent.
   */
  checkTagged(operation: string): void {
    if (typeof this.store.invalidateTags !== 'function') {
      throw new ConfigurationError(
        `${operation}: the ${this.storageType} storage does not support tags (it has no invalidateTags); use InMemory, RedisStorage or MongoDBStorage, or leave tags out`,
      )
    }
  }

  /**
   * The write options of a write tagged with `tags` (the caller's value, checked here; `where` names
   * the call in errors, e.g. `'cache.set'`). Throws before anything is written.
   */
  tagged(where: string, tags: unknown): WriteOptions {
    this.checkTagged(`${where}(key, value, { tags })`)
    return { tags: checkTags(tags, MAX_TAGS_PER_ENTRY, `${where}(key, value, { tags })`) }
  }

  /**
   * Removes the entries at or under `path` carrying any of `tags` (the caller's value, checked here);
   * answers how many (synchronously over a synchronous storage). Counted as `'tag'` evictions. Like a
   * scope eviction, it detaches this process's running computations of the scope when it starts and
   * when it ends (their tags are not known before they store), so none stores a value computed before.
   */
  invalidateTags(given: unknown, path: ScopePath): number | Promise<number> {
    const tags = checkTags(given, MAX_TAGS_PER_INVALIDATION, 'cache.invalidateTags(tags)')
    if (tags.length === 0)
      throw new InvalidArgumentError("cache.invalidateTags(tags): name at least one tag, e.g. ['plan:pro']")
    this.checkTagged('invalidateTags')
    this.flights.invalidate(encodeScopePath(path))
    const sync = this.sync
    if (sync !== undefined && typeof sync.invalidateTags === 'function') {
      return this.#afterTagInvalidation(
        path,
        this.runSync('invalidateTags', () => sync.invalidateTags!(tags, path), true),
      )
    }
    return this.run('invalidateTags', () => this.store.invalidateTags!(tags, path), true).then((removed) =>
      this.#afterTagInvalidation(path, removed),
    )
  }

  #afterTagInvalidation(path: ScopePath, removed: number): number {
    this.stats.evictions.tag += removed
    if (removed !== 0) this.observer.eviction('tag', removed, path, undefined)
    this.flights.invalidate(encodeScopePath(path))
    if (this.#rules.listensToEvictions)
      this.#rules.evicted({ ref: undefined, reason: 'tag', count: removed, scope: path })
    return removed
  }

  /** The storage's live entry count. */
  size(): number | Promise<number> {
    const sync = this.sync
    return sync !== undefined
      ? this.runSync('stats', () => sync.size())
      : this.run('stats', () => this.store.size())
  }

  /** The storage told of entries it removed on its own (expiry, bounds). */
  onEvicted(reason: AutomaticEvictionReason, count: number, ref: EntryRef | undefined): void {
    this.stats.evictions[reason] += count
    this.observer.eviction(reason, count, ref?.scope, ref?.key)
    if (this.#rules.listensToEvictions) this.#rules.evicted({ ref, reason, count })
  }

  /** Runs a synchronous storage call, wrapping its errors; `timed`: observed as an `operation`. */
  runSync<T>(operation: string, run: () => T, timed = false): T {
    const observer = this.observer
    const start = timed ? observer.start() : -1
    try {
      const result = run()
      observer.timed(operation as TimedOperation, start, 'ok')
      return result
    } catch (error) {
      observer.failed(operation as TimedOperation, start)
      throw this.storageError(operation, error)
    }
  }

  /** {@link Operations.runSync} for an asynchronous storage call. */
  async run<T>(operation: string, run: () => Promise<T>, timed = false): Promise<T> {
    const observer = this.observer
    const start = timed ? observer.start() : -1
    try {
      const result = await run()
      observer.timed(operation as TimedOperation, start, 'ok')
      return result
    } catch (error) {
      observer.failed(operation as TimedOperation, start)
      throw this.storageError(operation, error)
    }
  }

  /** A `CacheError` as it is, anything else wrapped in a `StorageError` of `operation`. */
  storageError(operation: string, error: unknown): CacheError {
    return error instanceof BaseError ? error : new StorageError(this.storageType, operation, error)
  }

  /** Emits an `error` event (a non-`CacheError` is wrapped in a `StorageError` for `operation`). */
  report(operation: string, error: unknown): void {
    this.#events.emit('error', this.storageError(operation, error), { operation })
  }

  /** The local tier inside the store, when there is one (the bulk and inspection reads use it). */
  get local(): LocalTier | undefined {
    return this.#local
  }

  /**
   * The bookkeeping of one read answered by a bulk or inspecting read (`bulk.ts`), as for every read:
   * a hit or miss counted, observed, rule hooks run. Answers `value`.
   */
  counted(ref: EntryRef, value: unknown, start: number, observer: OperationObserver): unknown {
    return this.#afterRead(ref, value, start, observer)
  }

  /** The bookkeeping of one write of a bulk write (`bulk.ts`), as for every write. */
  written(ref: EntryRef, ttlMs: number | undefined, start: number, observer: OperationObserver): void {
    this.#afterWrite(ref, ttlMs, start, observer)
  }

  /** The bookkeeping of one removal of a bulk removal (`bulk.ts`), as for every removal; answers `removed`. */
  deleted(ref: EntryRef, removed: boolean): boolean {
    return this.#afterDelete(ref, removed)
  }

  /** A failed read: thrown as a `StorageError`, or reported and read as a miss when failing open. */
  #readFailed(error: unknown, failOpen: boolean): Miss {
    if (!failOpen) throw this.storageError('get', error)
    this.report('get', error)
    return MISS
  }

  #afterRead(ref: EntryRef, value: unknown, start: number, observer: OperationObserver): unknown {
    const hit = value !== MISS
    if (hit) this.stats.hits++
    else this.stats.misses++
    if (observer !== UNOBSERVED) observer.read(ref, hit, start)
    if (this.#rules.hasGetHooks) this.#apply(this.#rules.afterGet(ref, hit))
    return value
  }

  /** A failed write: thrown as a `StorageError`, or reported (nothing stored) when failing open. */
  #writeFailed(error: unknown, failOpen: boolean): void {
    if (!failOpen) throw this.storageError('set', error)
    this.report('set', error)
  }

  #afterWrite(ref: EntryRef, ttlMs: number | undefined, start: number, observer: OperationObserver): void {
    this.stats.sets++
    if (observer !== UNOBSERVED) observer.write(ref, ttlMs, start)
    if (this.#rules.hasSetHooks) this.#apply(this.#rules.afterSet(ref, ttlMs))
  }

  #afterDelete(ref: EntryRef, removed: boolean): boolean {
    if (removed) {
      this.stats.evictions.explicit++
      this.observer.eviction('explicit', 1, ref.scope, ref.key)
      if (this.#rules.listensToEvictions) this.#rules.evicted({ ref, reason: 'explicit', count: 1 })
    }
    return removed
  }

  #afterScopeEviction(path: ScopePath, removed: number): number {
    this.stats.evictions.scope += removed
    if (removed !== 0) this.observer.eviction('scope', removed, path, undefined)
    this.flights.invalidate(encodeScopePath(path))
    if (this.#rules.listensToEvictions)
      this.#rules.evicted({ ref: undefined, reason: 'scope', count: removed, scope: path })
    if (path.length === 0) this.#rules.cleared()
    return removed
  }

  /** Applies rule effects. Over an async storage the deletions run in the background, errors reported. */
  #apply(effects: readonly RuleEffect[]): void {
    for (const effect of effects) {
      const done = (removed: boolean) => {
        if (!removed) return
        this.stats.evictions.rule++
        this.observer.eviction('rule', 1, effect.ref.scope, effect.ref.key)
        if (this.#rules.listensToEvictions) this.#rules.evicted({ ref: effect.ref, reason: 'rule', count: 1 })
      }
      if (this.sync !== undefined) {
        const sync = this.sync
        done(this.runSync('evict', () => sync.delete(effect.ref)))
      } else this.store.delete(effect.ref).then(done, (error: unknown) => this.report('evict', error))
    }
  }
}
