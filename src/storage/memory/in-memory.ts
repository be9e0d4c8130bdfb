import { ConfigurationError } from '../../errors.js'
import type {
  BoundOrder,
  ByteUsage,
  EntryRef,
  EntryWrite,
  Miss,
  ScopePath,
  StorageContext,
  StoredEntry,
  SyncStorageOperations,
  SyncStorageProvider,
  WriteOptions,
} from '../contract.js'
import { MemoryStore } from './store.js'

/**
 * The default storage: entries live in this process's memory, values are kept by reference (not
 * copied), and every operation also exists synchronously. Bounds are enforced in-process; the scope
 * tree makes `evictScope` cost O(entries in that scope).
 */
export class InMemory implements SyncStorageProvider {
  /** `'in_memory'`, as reported by `stats().storageType`. */
  readonly storageType = 'in_memory'
  /** Bounds (LRU, max items) are enforced in-process. */
  readonly supportsBounds = true
  /** Every order, TinyLFU included. */
  readonly boundOrders: readonly BoundOrder[] = ['lru', 'insertion', 'tinylfu']
  /** Byte budgets are enforced on `sizeOf` or `estimateSize` of the values kept. */
  readonly supportsByteBounds = true
  /** Cache-wide bounds with `fairness` evict from the tenant furthest over its fair share. */
  readonly supportsFairness: boolean = true
  /** The store behind both sides (internal: its own methods are not part of the contract). */
  readonly #store = new MemoryStore()
  /** The synchronous operations (the store itself); the async ones below delegate to the same store. */
  readonly sync: SyncStorageOperations = this.#store
  #sweeper: NodeJS.Timeout | undefined
  #attached = false

  /** Takes the cache's bounds and sweep interval; an InMemory belongs to one Cache only. */
  attach(context: StorageContext): void {
    if (this.#attached) {
      throw new ConfigurationError(
        'this InMemory storage already belongs to a Cache; give each Cache its own storage',
      )
    }
    this.#attached = true
    this.#store.configure(context)
    if (context.sweepIntervalMs !== undefined) {
      this.#sweeper = setInterval(
        () => this.#store.reclaimExpired(Number.POSITIVE_INFINITY),
        context.sweepIntervalMs,
      )
      this.#sweeper.unref()
    }
  }

  /** Bytes in total and per tenant under byte budgets (`undefined` without one). */
  async byteUsage(topN: number): Promise<ByteUsage | undefined> {
    return this.#store.byteUsage(topN)
  }

  /** The value of `ref`, or `MISS`. */
  async get(ref: EntryRef): Promise<unknown> {
    return this.#store.get(ref)
  }

  /** The value of `ref` with its expiry, or `MISS`. */
  async getWithExpiry(ref: EntryRef): Promise<StoredEntry | Miss> {
    return this.#store.getWithExpiry(ref)
  }

  /** The values of `refs`, in order (`MISS` per miss). */
  async getMany(refs: readonly EntryRef[]): Promise<unknown[]> {
    return refs.map((ref) => this.#store.get(ref))
  }

  /** The entries of `refs` with their expiries, in order (`MISS` per miss). */
  async getManyWithExpiry(refs: readonly EntryRef[]): Promise<(StoredEntry | Miss)[]> {
    return refs.map((ref) => this.#store.getWithExpiry(ref))
  }

  /** Stores every write, in order (later writes of a ref win). */
  async setMany(writes: readonly EntryWrite[]): Promise<void> {
    for (const write of writes) this.#store.set(write.ref, write.value, write.ttlMs)
  }

  /** Removes every ref; whether each existed. */
  async deleteMany(refs: readonly EntryRef[]): Promise<boolean[]> {
    return refs.map((ref) => this.#store.delete(ref))
  }

  /** Stores `value` (by reference) for `ttlMs` milliseconds, or without expiry, with `options.tags`. */
  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined, options?: WriteOptions): Promise<void> {
    this.#store.set(ref, value, ttlMs, options)
  }

  /** The live entries stored directly in `path` (by reference, as stored). */
  async list(path: ScopePath): Promise<ReadonlyArray<readonly [string, unknown]>> {
    return this.#store.list(path)
  }

  /** Removes `ref`; whether it existed. */
  async delete(ref: EntryRef): Promise<boolean> {
    return this.#store.delete(ref)
  }

  /** Removes every entry at or under `path`; how many. */
  async evictScope(path: ScopePath): Promise<number> {
    return this.#store.evictScope(path)
  }

  /** Removes the entries at or under `path` carrying any of `tags`; how many (memory is freed at once). */
  async invalidateTags(tags: readonly string[], path: ScopePath): Promise<number> {
    return this.#store.invalidateTags(tags, path)
  }

  /** Live entries. */
  async size(): Promise<number> {
    return this.#store.size()
  }

  /** Stops the sweeper; the entries stay readable. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }
}
