import { randomUUID } from 'node:crypto'
import type { Collection } from 'mongodb'
import type { EntryLocks, EntryRef, LockHandle, ScopeSemaphores } from '../contract.js'
import { encodeEntryRef } from '../key-encoding.js'
import { MongoSemaphores } from './semaphore.js'

/** One lock: `_id` is the entry's encoded ref, `token` its holder's, `expiresAt` when it lapses. */
export interface LockDocument {
  _id: string
  token: string
  expiresAt: Date
}

/** Runs one lock operation with the storage's timeout. */
export type MongoLockRunner = <T>(operation: string, work: () => Promise<T>) => Promise<T>

/** MongoDB's duplicate-key error code. */
const DUPLICATE_KEY = 11000

/**
 * Entry locks in a MongoDB collection of their own (`<collection>.locks`, so that locks never count
 * as entries, for `size()` or for bounds). Acquiring inserts `{ _id: ref, token, expiresAt }`: the
 * unique `_id` lets one insert win. A held lock whose `expiresAt` has passed is taken over by a
 * conditional update on `{ _id, expiresAt <= now }`, which only one contender can match. Release and
 * extension match `{ _id, token }`, so they never touch a later holder's lock.
 *
 * Expiry is compared on the clocks of the processes (servers such as FerretDB have no TTL index), so
 * processes sharing the collection should keep their clocks in sync; a crashed holder's lock document
 * stays until the next acquisition of that entry replaces it.
 */
export class MongoLocks implements EntryLocks {
  readonly #collection: Collection<LockDocument>
  readonly #run: MongoLockRunner
  /** Counting semaphores per scope, as slots that are locks of this collection (see `semaphore.ts`). */
  readonly semaphores: ScopeSemaphores

  constructor(collection: Collection<LockDocument>, run: MongoLockRunner) {
    this.#collection = collection
    this.#run = run
    this.semaphores = new MongoSemaphores(this)
  }

  /** The collection the locks live in. */
  get collection(): Collection<LockDocument> {
    return this.#collection
  }

  acquire(ref: EntryRef, ttlMs: number): Promise<LockHandle | undefined> {
    const _id = encodeEntryRef(ref)
    const token = randomUUID()
    return this.#run('lock', async () => {
      const now = Date.now()
      const expiresAt = new Date(now + ttlMs)
      try {
        await this.#collection.insertOne({ _id, token, expiresAt })
        return { ref, token }
      } catch (error) {
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error
      }
      const taken = await this.#collection.updateOne(
        { _id, expiresAt: { $lte: new Date(now) } },
        { $set: { token, expiresAt } },
      )
      return taken.matchedCount === 1 ? { ref, token } : undefined
    })
  }

  extend(handle: LockHandle, ttlMs: number): Promise<boolean> {
    const _id = encodeEntryRef(handle.ref)
    return this.#run('lock', async () => {
      const done = await this.#collection.updateOne(
        { _id, token: handle.token },
        { $set: { expiresAt: new Date(Date.now() + ttlMs) } },
      )
      return done.matchedCount === 1
    })
  }

  release(handle: LockHandle): Promise<boolean> {
    const _id = encodeEntryRef(handle.ref)
    return this.#run('lock', async () => {
      const done = await this.#collection.deleteOne({ _id, token: handle.token })
      return done.deletedCount === 1
    })
  }
}
