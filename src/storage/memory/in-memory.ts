import { ConfigurationError } from '../../errors.js'
import type { EntryRef, ScopePath, StorageContext, SyncStorageProvider } from '../contract.js'
import { MemoryStore } from './store.js'

/**
 * The default storage: entries live in this process's memory, values are kept by reference (not
 * copied), and every operation also exists synchronously. Bounds are enforced in-process; the scope
 * tree makes `evictScope` cost O(entries in that scope).
 */
export class InMemory implements SyncStorageProvider {
  readonly storageType = 'in_memory'
  readonly supportsBounds = true
  /** The synchronous operations; the async ones below delegate to it. */
  readonly sync = new MemoryStore()
  #sweeper: NodeJS.Timeout | undefined
  #attached = false

  attach(context: StorageContext): void {
    if (this.#attached) {
      throw new ConfigurationError(
        'this InMemory storage already belongs to a Cache; give each Cache its own storage',
      )
    }
    this.#attached = true
    this.sync.configure(context)
    if (context.sweepIntervalMs !== undefined) {
      this.#sweeper = setInterval(
        () => this.sync.reclaimExpired(Number.POSITIVE_INFINITY),
        context.sweepIntervalMs,
      )
      this.#sweeper.unref()
    }
  }

  async get(ref: EntryRef): Promise<unknown> {
    return this.sync.get(ref)
  }

  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    this.sync.set(ref, value, ttlMs)
  }

  async delete(ref: EntryRef): Promise<boolean> {
    return this.sync.delete(ref)
  }

  async evictScope(path: ScopePath): Promise<number> {
    return this.sync.evictScope(path)
  }

  async size(): Promise<number> {
    return this.sync.size()
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }
}
