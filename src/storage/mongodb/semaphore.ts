import type { EntryLocks, LeaseHandle, ScopePath, ScopeSemaphores } from '../contract.js'

/**
 * The lock key of slot `slot` of semaphore `name`: `#s:` never starts an entry's key (direct keys that
 * start with `#` get another `#`, memoized ones start with `#m:`), so a slot never shares a lock with
 * an entry.
 */
const slotKey = (name: string, slot: number) => `#s:${slot}:${name}`

/**
 * Counting semaphores per scope on MongoDB, as `limit` slots, each an entry lock of the lock collection
 * (see `lock.ts`): acquiring takes the first free (or expired) slot, trying them from a random one so
 * that contenders spread; a lease is that slot's lock, extended and released by its token. Every
 * step is one atomic MongoDB operation on one slot, so at most `limit` leases exist at once. A caller
 * that lowers `limit` while leases of a higher one are held may see more than the new limit until they
 * end.
 */
export class MongoSemaphores implements ScopeSemaphores {
  readonly #locks: EntryLocks

  constructor(locks: EntryLocks) {
    this.#locks = locks
  }

  async acquire(
    scope: ScopePath,
    name: string,
    limit: number,
    ttlMs: number,
  ): Promise<LeaseHandle | undefined> {
    const first = Math.floor(Math.random() * limit)
    for (let i = 0; i < limit; i++) {
      const slot = (first + i) % limit
      const handle = await this.#locks.acquire({ scope, key: slotKey(name, slot) }, ttlMs)
      if (handle !== undefined) return { scope, name, token: `${slot}:${handle.token}` }
    }
    return undefined
  }

  extend(lease: LeaseHandle, ttlMs: number): Promise<boolean> {
    return this.#locks.extend(this.#lock(lease), ttlMs)
  }

  release(lease: LeaseHandle): Promise<boolean> {
    return this.#locks.release(this.#lock(lease))
  }

  /** The slot lock of a lease (a token not made by `acquire` names no slot and matches no lock). */
  #lock(lease: LeaseHandle) {
    const colon = lease.token.indexOf(':')
    const slot = Number(lease.token.slice(0, colon))
    const key = Number.isSafeInteger(slot) && slot >= 0 ? slotKey(lease.name, slot) : '#s:none'
    return { ref: { scope: lease.scope, key }, token: lease.token.slice(colon + 1) }
  }
}
