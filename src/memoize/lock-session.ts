import type { EntryLocks, EntryRef, LockHandle } from '../storage/contract.js'

/**
 * One memoized load's hold on a cross-process entry lock: acquired at most once, renewed every third
 * of its TTL while held (so a slow function keeps it, and a crashed holder's lock lapses within one
 * TTL), released once. Renewal and release failures are reported, never thrown: a lost lock only
 * means another process may run the function too.
 */
export class LockSession {
  readonly #locks: EntryLocks
  readonly #ttlMs: number
  readonly #report: (operation: string, error: unknown) => void
  #handle: LockHandle | undefined
  #renewal: NodeJS.Timeout | undefined
  #released = false

  constructor(locks: EntryLocks, ttlMs: number, report: (operation: string, error: unknown) => void) {
    this.#locks = locks
    this.#ttlMs = ttlMs
    this.#report = report
  }

  /** Tries once to take the lock of `ref`; rejects if the storage fails. */
  async acquire(ref: EntryRef): Promise<boolean> {
    const handle = await this.#locks.acquire(ref, this.#ttlMs)
    if (handle === undefined) return false
    this.#handle = handle
    if (this.#released) {
      void this.release()
      return true
    }
    this.#renewal = setInterval(() => this.#renew(handle), Math.max(1, this.#ttlMs / 3))
    this.#renewal.unref()
    return true
  }

  /**
   * Stops renewing and releases the lock if it was taken; resolves when done, never rejects (a failure
   * is reported, and the lock lapses after its TTL). Safe to call more than once.
   */
  async release(): Promise<void> {
    this.#released = true
    clearInterval(this.#renewal)
    this.#renewal = undefined
    const handle = this.#handle
    this.#handle = undefined
    if (handle === undefined) return
    try {
      await this.#locks.release(handle)
    } catch (error) {
      this.#report('lock', error)
    }
  }

  #renew(handle: LockHandle): void {
    this.#locks.extend(handle, this.#ttlMs).then(
      (held) => {
        if (!held && this.#handle === handle) clearInterval(this.#renewal)
      },
      (error: unknown) => this.#report('lock', error),
    )
  }
}
