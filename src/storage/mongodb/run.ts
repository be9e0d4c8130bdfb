import { debuglog } from 'node:util'
import type { Collection } from 'mongodb'
import type { BoundPolicy } from '../contract.js'
import type { EntryDocument } from './document.js'
import type { TtlSupport } from './indexes.js'
import { ensureIndexes } from './indexes.js'
import { MongoDBTimeoutError } from './options.js'
import { PerKeyOrder } from './per-key-order.js'

/** How an operation is ordered against others on the same key (see {@link PerKeyOrder}). */
export type Ordering =
  | { read: string }
  | { reads: readonly string[] }
  | { write: string }
  | { writes: readonly string[] }
  | Record<string, never>
/** An operation ordered against none (scope-wide, or with no key). */
export const UNORDERED: Ordering = {}

/** Bulk operations get `operationTimeoutMs` per this many entries (FerretDB scans for `$in`). */
const BULK_TIMEOUT_ENTRIES = 50

const debug = debuglog('cacheado')
let ttlRefusalNoted = false

/**
 * How the MongoDB storage runs its operations: after the indexes exist (created once, on the first
 * operation, for the bounds known then), in per-key order within this process, each within its
 * timeout.
 */
export class MongoRunner {
  readonly #collection: Collection<EntryDocument>
  readonly #timeoutMs: number
  readonly #bounds: () => readonly BoundPolicy[]
  readonly #order = new PerKeyOrder()
  #indexes: Promise<void> | undefined
  #ttl: TtlSupport | undefined

  constructor(
    collection: Collection<EntryDocument>,
    operationTimeoutMs: number,
    bounds: () => readonly BoundPolicy[],
  ) {
    this.#collection = collection
    this.#timeoutMs = operationTimeoutMs
    this.#bounds = bounds
  }

  /** Whether the server accepted the TTL index; undefined until the indexes were created. */
  get ttl(): TtlSupport | undefined {
    return this.#ttl
  }

  /**
   * Runs one operation after the indexes exist and after the operations on the same key issued before
   * it (see {@link PerKeyOrder}); rejects `operationTimeoutMs` after it was issued at the latest, waiting
   * included. An operation whose deadline passed while it waited is not sent at all.
   */
  async run<T>(
    operation: string,
    order: Ordering,
    work: (collection: Collection<EntryDocument>) => Promise<T>,
    entries = 1,
  ): Promise<T> {
    // A bulk operation gets operationTimeoutMs per BULK_TIMEOUT_ENTRIES entries.
    const timeoutMs = this.#timeoutMs * Math.max(1, Math.ceil(entries / BULK_TIMEOUT_ENTRIES))
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        reject(new MongoDBTimeoutError(operation, timeoutMs))
      }, timeoutMs)
    })
    // Promise.race subscribes to every promise it gets, so a late rejection is handled, never unhandled;
    // `guarded` settles by the deadline, so a hung operation never holds its key past it.
    const guarded = (): Promise<T> =>
      timedOut ? timeout : Promise.race([this.#ensureIndexes().then(() => work(this.#collection)), timeout])
    const result =
      'read' in order
        ? this.#order.read(order.read, guarded)
        : 'reads' in order
          ? this.#order.readMany(order.reads, guarded)
          : 'write' in order
            ? this.#order.write(order.write, guarded)
            : 'writes' in order
              ? this.#order.writeMany(order.writes, guarded)
              : guarded()
    try {
      return await Promise.race([result, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Creates the indexes once per storage; a failure is forgotten so that the next operation retries. */
  #ensureIndexes(): Promise<void> {
    this.#indexes ??= ensureIndexes(this.#collection, this.#bounds()).then(
      (support) => {
        this.#ttl = support
        if (support === 'refused' && !ttlRefusalNoted) {
          ttlRefusalNoted = true
          debug(
            'the MongoDB server refused the TTL index on expiresAt; expired entries are filtered at read and deleted by the sweeper',
          )
        }
      },
      (error: unknown) => {
        this.#indexes = undefined
        throw error
      },
    )
    return this.#indexes
  }
}
