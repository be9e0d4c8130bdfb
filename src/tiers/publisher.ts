import type { Bus, BusMessage, EntryRef, Invalidation } from '../storage/contract.js'
import { countsAsFailure } from './circuit-breaker.js'

/** Refs per bus message at most (a message stays a few kilobytes). */
export const MAX_REFS_PER_MESSAGE = 200

/**
 * The sending side of a {@link Bus}, shared by the two-tier storage and by the publishing wrapper of
 * caches without a local tier: how invalidations leave this process.
 *
 * - {@link Publisher.queue}: refs named in one `entries` message per turn of the event loop (many
 *   concurrent writes cost one PUBLISH); not awaited, failures go to `onError`.
 * - {@link Publisher.send}: one message now, resolved once the bus acknowledged it (evictions wait for
 *   it: an eviction resolves only after every other process can have been told).
 *
 * The bus is made on first use (`bus` may be a factory), so a process that never publishes opens
 * nothing for it.
 */
export class Publisher {
  /** Id of the sending process (its local tier, or the wrapper) on the bus. */
  readonly origin: string
  #bus: Bus | undefined
  #make: (() => Bus | undefined) | undefined
  readonly #onError: (error: unknown) => void
  /** Refs waiting for the next `entries` message. */
  #batch: EntryRef[] | undefined
  #closed = false

  constructor(
    origin: string,
    bus: Bus | (() => Bus | undefined) | undefined,
    onError: (error: unknown) => void,
  ) {
    this.origin = origin
    if (typeof bus === 'function') this.#make = bus
    else this.#bus = bus
    this.#onError = onError
  }

  /** Whether messages can be sent at all (a bus was given, or can be made). */
  get enabled(): boolean {
    return this.#bus !== undefined || this.#make !== undefined
  }

  /** Whether refs are waiting for the next turn's message. */
  get batching(): boolean {
    return this.#batch !== undefined
  }

  /** The bus, made now if it was given as a factory (undefined: none). */
  get bus(): Bus | undefined {
    if (this.#bus === undefined && this.#make !== undefined && !this.#closed) {
      const make = this.#make
      this.#make = undefined
      this.#bus = make()
    }
    return this.#bus
  }

  /** Names entries in the next `entries` message (at most {@link MAX_REFS_PER_MESSAGE} refs each). */
  queue(...refs: EntryRef[]): void {
    if (!this.enabled || this.#closed) return
    if (this.#batch === undefined) {
      this.#batch = []
      setImmediate(() => this.flush())
    }
    this.#batch.push(...refs)
  }

  /** Sends the queued refs now. */
  flush(): void {
    const refs = this.#batch ?? []
    this.#batch = undefined
    for (let i = 0; i < refs.length; i += MAX_REFS_PER_MESSAGE) {
      this.send({ kind: 'entries', refs: refs.slice(i, i + MAX_REFS_PER_MESSAGE) }).catch(this.#onError)
    }
  }

  /**
   * Publishes one message; resolves once the bus accepted it, rejects when it could not be sent. An
   * `entries` invalidation naming more than {@link MAX_REFS_PER_MESSAGE} refs leaves as several
   * messages (all sent at once), resolved once every one was accepted.
   */
  send(invalidation: Invalidation): Promise<void> {
    if (invalidation.kind === 'entries' && invalidation.refs.length > MAX_REFS_PER_MESSAGE) {
      const parts: Promise<void>[] = []
      for (let i = 0; i < invalidation.refs.length; i += MAX_REFS_PER_MESSAGE) {
        parts.push(this.send({ kind: 'entries', refs: invalidation.refs.slice(i, i + MAX_REFS_PER_MESSAGE) }))
      }
      return Promise.all(parts).then(() => undefined)
    }
    const bus = this.bus
    if (bus === undefined) return Promise.resolve()
    try {
      return bus.publish({ origin: this.origin, invalidation })
    } catch (error) {
      // A custom bus that throws instead of rejecting.
      return Promise.reject(error)
    }
  }

  /**
   * A removal, then its message, waited for: resolves once every other process can have been told.
   * A removal that failed after it was sent (`sent()`) publishes too (it may land anyway), without
   * waiting (a failure to publish goes to `onError`), and rejects with its own error.
   */
  async removal<T>(remove: () => Promise<T>, invalidation: Invalidation, sent: () => boolean): Promise<T> {
    let result: T
    try {
      result = await remove()
    } catch (error) {
      if (sent() && countsAsFailure(error)) this.send(invalidation).catch(this.#onError)
      throw error
    }
    await this.send(invalidation)
    return result
  }

  /**
   * {@link Publisher.removal} for a storage that publishes the message itself once it removed the
   * entries (`remove` is given the message, e.g. `invalidateTagsAndPublish`): one command instead of
   * two. A failure after it was sent publishes on the bus as `removal` does.
   */
  async removalPublished<T>(
    remove: (message: BusMessage) => Promise<T>,
    invalidation: Invalidation,
    sent: () => boolean,
  ): Promise<T> {
    try {
      return await remove({ origin: this.origin, invalidation })
    } catch (error) {
      if (sent() && countsAsFailure(error)) this.send(invalidation).catch(this.#onError)
      throw error
    }
  }

  /** Sends what is queued, then closes the bus if one was made or given. */
  async close(): Promise<void> {
    this.flush() // messages of the last writes leave before the connection closes
    this.#closed = true
    this.#make = undefined
    await this.#bus?.close()
  }
}
