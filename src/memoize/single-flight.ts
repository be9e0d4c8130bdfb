/**
 * In-process single flight: concurrent misses of one key share one call of the function.
 *
 * Invariant: a flight whose scope was evicted while it ran (`invalidate`) still answers its callers but
 * does not store its result, so an eviction is never undone by a call that started before it.
 */
interface Flight {
  readonly promise: Promise<unknown>
  stale: boolean
}

export class SingleFlight {
  readonly #flights = new Map<string, Flight>()

  /** The running flight for `id`, if any. */
  join(id: string): Promise<unknown> | undefined {
    return this.#flights.get(id)?.promise
  }

  /**
   * Registers `pending` as the flight for `id`. When it resolves, `store` runs (unless invalidated)
   * before the callers see the value; a rejection is passed on and nothing is stored.
   */
  start<T>(id: string, pending: PromiseLike<T>, store: (value: T) => void | Promise<void>): Promise<T> {
    const flight: { promise: Promise<T>; stale: boolean } = {
      promise: undefined as unknown as Promise<T>,
      stale: false,
    }
    const done = () => {
      if (this.#flights.get(id) === flight) this.#flights.delete(id)
    }
    flight.promise = Promise.resolve(pending).then(
      async (value) => {
        if (!flight.stale) await store(value)
        done()
        return value
      },
      (error: unknown) => {
        done()
        throw error
      },
    )
    this.#flights.set(id, flight)
    return flight.promise
  }

  /** Marks every flight whose id starts with `prefix` as stale (`''`: all of them). */
  invalidate(prefix: string): void {
    for (const [id, flight] of this.#flights) {
      if (id.startsWith(prefix)) {
        flight.stale = true
        this.#flights.delete(id)
      }
    }
  }

  /** Number of running flights. */
  get size(): number {
    return this.#flights.size
  }
}
