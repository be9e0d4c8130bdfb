import { ConfigurationError } from '../errors.js'
import type { EntryRef, EntryWrite, Miss, StorageProvider, StoredEntry } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import type { Operations } from './pipeline.js'
import { UNOBSERVED } from './observer.js'

/**
 * Which tier answered a read: `'local'` (the in-process copy of a two-tier cache), `'shared'` (the
 * storage behind it, or an asynchronous storage without a local tier) or `'memory'` (a synchronous,
 * in-process storage such as `InMemory`).
 */
export type ReadTier = 'local' | 'shared' | 'memory'

/**
 * What `cache.getWithMetadata(key)` answers.
 * - `status`: `'hit'` or `'miss'`; `'stale'` is reserved for reads that can serve an expired value
 *   within a grace period (memoized functions with `resilience.graceSeconds`): a direct key has no
 *   grace, so `cache.getWithMetadata` never answers it.
 * - `expiresAt`: epoch milliseconds; `null` for an entry without expiry; `undefined` on a miss, or when
 *   the storage does not report expiries (no `getWithExpiry`). On a local hit it is when the local copy
 *   expires: never after the shared entry, and at most `local.ttlSeconds` away (`cache.expiresAt(key)`
 *   asks the shared storage for the entry's own).
 */
export interface ReadMetadata<V = unknown> {
  /** The value, or `undefined` on a miss. */
  readonly value: V | undefined
  /** Whether the read found a live entry. */
  readonly status: 'hit' | 'miss' | 'stale'
  /** Which tier answered. */
  readonly tier: ReadTier
  /** When the entry expires (epoch ms); `null`: never; `undefined`: a miss, or not reported. */
  readonly expiresAt: number | null | undefined
}

/** An expiry as the API gives it: epoch ms, `null` for none. */
const expiryOf = (entry: StoredEntry): number | null => entry.expiresAt ?? null

/**
 * Bulk operations and inspection over the operation pipeline: `getMany`, `setMany`, `evictMany`,
 * `has`, `expiresAt` and `getWithMetadata` of the facade, with the pipeline's bookkeeping per entry
 * (a bulk read of n keys counts n hits and misses, runs the rule hooks n times; a bulk write counts n
 * sets). Storage calls go through the storage's bulk capabilities when it has them, and fall back to
 * one call per entry (all at once) when it does not. Every answer is synchronous over a synchronous
 * storage.
 */
export class BulkOperations {
  readonly #ops: Operations

  constructor(ops: Operations) {
    this.#ops = ops
  }

  /** The values of `refs` in order (`MISS` per miss; refs may repeat). */
  readMany(refs: readonly EntryRef[]): unknown[] | Promise<unknown[]> {
    const ops = this.#ops
    if (ops.sync !== undefined) return refs.map((ref) => ops.readSync(ref, false))
    const observer = ops.observer
    let start = observer === UNOBSERVED ? -1 : observer.start()
    let pending: Promise<unknown[]>
    try {
      pending = readValues(ops.store, refs)
    } catch (error) {
      pending = Promise.reject(error)
    }
    return pending.then(
      (values) => values.map((value, i) => ops.counted(refs[i]!, value, start, observer)),
      (error: unknown) => {
        start = observer.failed('get', start)
        throw ops.storageError('get', error)
      },
    )
  }

  /** Stores every write (later writes of a ref win). */
  writeMany(writes: readonly EntryWrite[]): void | Promise<void> {
    const ops = this.#ops
    if (ops.sync !== undefined) {
      for (const { ref, value, ttlMs } of writes) ops.writeSync(ref, value, ttlMs, false)
      return
    }
    return this.#writeManyAsync(writes)
  }

  async #writeManyAsync(writes: readonly EntryWrite[]): Promise<void> {
    const ops = this.#ops
    const store = ops.store
    const observer = ops.observer
    const start = observer === UNOBSERVED ? -1 : observer.start()
    try {
      if (store.setMany !== undefined) await store.setMany(writes)
      else await Promise.all(writes.map(({ ref, value, ttlMs }) => store.set(ref, value, ttlMs)))
    } catch (error) {
      observer.failed('set', start)
      throw ops.storageError('set', error)
    }
    for (const { ref, ttlMs } of writes) ops.written(ref, ttlMs, start, observer)
  }

  /** Removes every ref (`refs` do not repeat); how many existed. */
  deleteMany(refs: readonly EntryRef[]): number | Promise<number> {
    const ops = this.#ops
    const count = (removed: readonly boolean[]) =>
      refs.reduce((n, ref, i) => (ops.deleted(ref, removed[i] === true) ? n + 1 : n), 0)
    const sync = ops.sync
    if (sync !== undefined)
      return count(ops.runSync('evict', () => refs.map((ref) => sync.delete(ref)), true))
    const store = ops.store
    return ops
      .run(
        'evict',
        () =>
          store.deleteMany !== undefined
            ? store.deleteMany(refs)
            : Promise.all(refs.map((ref) => store.delete(ref))),
        true,
      )
      .then(count)
  }

  /** Whether `ref` holds a live entry; not counted as a hit or miss, no rule hooks. */
  has(ref: EntryRef): boolean | Promise<boolean> {
    const ops = this.#ops
    const sync = ops.sync
    if (sync !== undefined) return ops.runSync('get', () => sync.get(ref) !== MISS)
    if (ops.local !== undefined && ops.local.peek(ref) !== MISS) return Promise.resolve(true)
    return ops.run('get', () => ops.store.get(ref)).then((value) => value !== MISS)
  }

  /**
   * When `ref` expires: epoch ms, `null` without expiry, `undefined` when absent. Asks the storage
   * (past a local tier, whose copies' expiries are capped); a storage without `getWithExpiry` cannot
   * answer (a `ConfigurationError`).
   */
  expiresAt(
    ref: EntryRef,
    operation: string,
  ): number | null | undefined | Promise<number | null | undefined> {
    const ops = this.#ops
    const answer = (entry: StoredEntry | Miss) => (entry === MISS ? undefined : expiryOf(entry))
    const sync = ops.sync
    if (sync !== undefined) {
      const read = sync.getWithExpiry
      if (read === undefined) throw noExpiry(ops.storageType, operation)
      return answer(ops.runSync('get', () => read.call(sync, ref)))
    }
    const store = ops.store
    if (store.getWithExpiry === undefined) throw noExpiry(ops.storageType, operation)
    return ops.run('get', () => store.getWithExpiry!(ref)).then(answer)
  }

  /** A read (counted, observed, rule hooks run like `get`) answering which tier answered and the expiry. */
  readWithMetadata(ref: EntryRef): ReadMetadata | Promise<ReadMetadata> {
    const ops = this.#ops
    const observer = ops.observer
    let start = observer === UNOBSERVED ? -1 : observer.start()
    const metadata = (entry: StoredEntry | Miss | { value: unknown }, tier: ReadTier): ReadMetadata => {
      const hit = entry !== MISS
      ops.counted(ref, hit ? entry.value : MISS, start, observer)
      if (!hit) return { value: undefined, status: 'miss', tier, expiresAt: undefined }
      const expiresAt = 'expiresAt' in entry ? expiryOf(entry) : undefined
      return { value: entry.value, status: 'hit', tier, expiresAt }
    }
    const sync = ops.sync
    if (sync !== undefined) {
      let entry: StoredEntry | Miss | { value: unknown }
      try {
        entry = sync.getWithExpiry !== undefined ? sync.getWithExpiry(ref) : wrap(sync.get(ref))
      } catch (error) {
        observer.failed('get', start)
        throw ops.storageError('get', error)
      }
      return metadata(entry, 'memory')
    }
    const local = ops.local?.peekEntry?.(ref)
    if (local !== undefined && local !== MISS) return Promise.resolve(metadata(local, 'local'))
    const store = ops.store
    let pending: Promise<StoredEntry | Miss | { value: unknown }>
    try {
      pending = store.getWithExpiry !== undefined ? store.getWithExpiry(ref) : store.get(ref).then(wrap)
    } catch (error) {
      pending = Promise.reject(error)
    }
    return pending.then(
      (entry) => metadata(entry, 'shared'),
      (error: unknown) => {
        start = observer.failed('get', start)
        throw ops.storageError('get', error)
      },
    )
  }
}

/** A value read without its expiry. */
function wrap(value: unknown): Miss | { value: unknown } {
  return value === MISS ? MISS : { value }
}

/** The values of `refs` through the store's `getMany`, or one `get` each, all at once. */
function readValues(store: StorageProvider, refs: readonly EntryRef[]): Promise<unknown[]> {
  if (store.getMany !== undefined) return store.getMany(refs)
  return Promise.all(refs.map((ref) => store.get(ref)))
}

function noExpiry(storageType: string, operation: string): ConfigurationError {
  return new ConfigurationError(
    `cache.${operation}() needs a storage that reports expiries (getWithExpiry); the ${storageType} storage does not`,
  )
}
