import type { EntryRef, EntryWrite, StorageProvider } from '../storage/contract.js'

/** A write that stored (the fence-less writes always do). */
export const STORED = (): boolean => true

/** Every write to `shared` in one bulk write: its `setMany`, or one `set` each, all at once. */
export function writeAll(shared: StorageProvider, writes: readonly EntryWrite[]): Promise<boolean> {
  return (
    shared.setMany !== undefined
      ? shared.setMany(writes)
      : Promise.all(writes.map((w) => shared.set(w.ref, w.value, w.ttlMs)))
  ).then(STORED)
}

/** Removes every ref from `shared`: its `deleteMany`, or one `delete` each, all at once. */
export function deleteAll(shared: StorageProvider, refs: readonly EntryRef[]): Promise<boolean[]> {
  return shared.deleteMany !== undefined
    ? shared.deleteMany(refs)
    : Promise.all(refs.map((ref) => shared.delete(ref)))
}
