/**
 * In-process single flight: concurrent misses of one key share one call of the function.
 *
 * Invariants:
 * - a flight whose scope was evicted while it ran (`invalidate`) still answers its callers but does
 *   not store its result, so an eviction is never undone by a call that started before it;
 * - over an async storage, a read that started before a flight of its key finished may still answer
 *   "miss" (its reply can arrive after the flight stored its value). While such reads are in progress
 *   (`beginRead`/`endRead`), a finished flight's promise is kept and handed to them, so they do not run
 *   the function a second time. This holds for a flight that failed too: the reads that started before
 *   it failed share its rejection (a read that started after it failed runs the function again).
 */
interface Flight {
  readonly promise: Promise<unknown>
  stale: boolean
  /** The store of its result while it runs (a write may be on its way to the storage). */
  storing: Promise<void> | undefined
}

/**
 * The flight id of a `getOrSet` refresh ahead of the entry whose flight id is `id`: an eviction of the
 * entry detaches it along with the entry's own flight (see `Operations.delete`).
 */
export const refreshFlightId = (id: string): string => `${id}#refresh`

export class SingleFlight {
  readonly #flights = new Map<string, Flight>()
  /** Reads in progress per key. */
  readonly #readers = new Map<string, number>()
  /** Finished flights kept for the reads of their key that started before they finished. */
  readonly #finished = new Map<string, { readonly promise: Promise<unknown>; readonly at: number }>()
  /** Ticket of the next read; a finished flight answers the reads whose ticket is below its `at`. */
  #ticket = 0

  /** The running flight for `id`, if any. */
  join(id: string): Promise<unknown> | undefined {
    return this.#flights.get(id)?.promise
  }

  /**
   * Registers `pending` as the flight for `id`. When it resolves, `store` runs (unless invalidated)
   * before the callers see the value; a rejection is passed on and nothing is stored.
   */
  start<T>(id: string, pending: PromiseLike<T>, store: (value: T) => void | Promise<void>): Promise<T> {
    const flight: { promise: Promise<T>; stale: boolean; storing: Promise<void> | undefined } = {
      promise: undefined as unknown as Promise<T>,
      stale: false,
      storing: undefined,
    }
    const done = () => {
      if (this.#flights.get(id) === flight) this.#flights.delete(id)
    }
    const keep = () => {
      if (!flight.stale && this.#readers.has(id))
        this.#finished.set(id, { promise: flight.promise, at: this.#ticket })
    }
    flight.promise = Promise.resolve(pending).then(
      async (value) => {
        if (!flight.stale) {
          const storing = store(value)
          if (storing !== undefined) {
            flight.storing = Promise.resolve(storing)
            await flight.storing
          }
        }
        keep()
        done()
        return value
      },
      (error: unknown) => {
        keep()
        done()
        throw error
      },
    )
    this.#flights.set(id, flight)
    return flight.promise
  }

  /** Registers a storage read of `id` that is about to start; pass the returned ticket to `endRead`. */
  beginRead(id: string): number {
    this.#readers.set(id, (this.#readers.get(id) ?? 0) + 1)
    return this.#ticket++
  }

  /**
   * Ends a read registered with `beginRead`; answers the flight of `id` that finished (or failed) after
   * that read started, if any.
   */
  endRead(id: string, ticket: number): Promise<unknown> | undefined {
    const kept = this.#finished.get(id)
    const finished = kept !== undefined && ticket < kept.at ? kept.promise : undefined
    const readers = this.#readers.get(id)! - 1
    if (readers > 0) this.#readers.set(id, readers)
    else {
      this.#readers.delete(id)
      this.#finished.delete(id)
    }
    return finished
  }

  /** Marks every flight whose id starts with `prefix` as stale (`''`: all of them). */
  invalidate(prefix: string): void {
    for (const [id, flight] of this.#flights) {
      if (id.startsWith(prefix)) {
        flight.stale = true
        this.#flights.delete(id)
      }
    }
    for (const id of this.#finished.keys()) if (id.startsWith(prefix)) this.#finished.delete(id)
  }

  /**
   * Marks the flight of exactly `id` as stale (an evicted entry: its running computation answers its
   * callers but does not store, and no later call joins it). Answers the store it already started, if
   * any (settles, never rejects): its write may reach the storage after an eviction sent now, so the
   * evicting caller removes the entry again once it settled.
   */
  invalidateExact(id: string): Promise<unknown> | undefined {
    const flight = this.#flights.get(id)
    this.#finished.delete(id)
    if (flight === undefined) return undefined
    flight.stale = true
    this.#flights.delete(id)
    return flight.storing?.catch(() => undefined)
  }

  /** Number of running flights. */
  get size(): number {
    return this.#flights.size
  }
}
