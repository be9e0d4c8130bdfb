// The README's "Writing your own storage": the shipped conformance suite run on a provider. MyStorage
// stands for yours; to keep the example short it hands every call to the in-memory storage.
import { InMemory } from 'cacheado'
import type { EntryRef, ScopePath, StorageContext, StorageProvider } from 'cacheado/storage'

/** A provider written outside the library (here: a thin wrapper, as a stand-in for a real backend). */
export class MyStorage implements StorageProvider {
  readonly storageType = 'my-storage'
  readonly supportsBounds = true
  readonly #inner = new InMemory()
  attach(context: StorageContext): void {
    this.#inner.attach(context)
  }
  get(ref: EntryRef): Promise<unknown> {
    return this.#inner.get(ref)
  }
  set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    return this.#inner.set(ref, value, ttlMs)
  }
  delete(ref: EntryRef): Promise<boolean> {
    return this.#inner.delete(ref)
  }
  evictScope(path: ScopePath): Promise<number> {
    return this.#inner.evictScope(path)
  }
  size(): Promise<number> {
    return this.#inner.size()
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

// #region conformance
// my-storage.test.ts: vitest here; node:test and jest work the same way
import { afterEach, describe, it } from 'vitest'
import { describeStorageConformance } from 'cacheado/testing'

describeStorageConformance('my storage', {
  create: () => new MyStorage(), // a new, empty storage each time
  runner: { describe, it, afterEach },
})
// #endregion
