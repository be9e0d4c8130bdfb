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

/** Longest pause between two polls of a lock waiter, in ms. */
const MAX_POLL_PAUSE_MS = 100

/** A lock waiter's pause. Not unref'd: a caller awaits it, and it lasts at most `waitMs` in all. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Takes the entry's lock through `session`, or polls `found` (with backoff) until it answers something
 * other than `none` (another process stored a value) or the lock is free. After `waitMs` without either,
 * answers `none` (the caller runs its function anyway, without the lock). A storage that fails to lock
 * is reported and answers `none` (fail-open). Once the lock is taken, answers `found()` (the previous
 * holder may have stored the value between the caller's read and its lock).
 */
export async function waitForTurn<N>(
  session: LockSession,
  ref: EntryRef,
  waitMs: number,
  found: () => Promise<unknown>,
  none: N,
  report: (operation: string, error: unknown) => void,
): Promise<unknown> {
  const until = Date.now() + waitMs
  let pause = 5
  for (;;) {
    let acquired: boolean
    try {
      acquired = await session.acquire(ref)
    } catch (error) {
      report('lock', error)
      return none
    }
    if (acquired) return found()
    const left = until - Date.now()
    if (left <= 0) return none
    await sleep(Math.min(left, pause * (0.5 + Math.random())))
    pause = Math.min(pause * 2, MAX_POLL_PAUSE_MS)
    const value = await found()
    if (value !== none) return value
  }
}
