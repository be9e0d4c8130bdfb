/**
 * The stored form of a memoized result under a grace period (`graceSeconds`): the value plus the time
 * it becomes stale. The entry itself lives `ttl + grace` in the storage (its physical TTL), so every
 * backend keeps it through the grace period with its own expiry; staleness (the logical TTL) is read
 * from the envelope. Only memoized entries are wrapped: direct `get`/`set` never see an envelope.
 *
 * The envelope is a plain object, so every serializer stores it. It cannot be forged by a result: every
 * memoized entry is read by unwrapping at most one envelope, and a result that is itself shaped like an
 * envelope is always stored inside a real one (under a grace period every result is; without one, such
 * a result is wrapped with {@link NEVER_STALE}). Entries written before this rule read as they did. `staleAt` is milliseconds since the
 * epoch on the clock of the process that wrote the entry (processes sharing a backend should keep their
 * clocks in sync, as they must for any TTL).
 */

/** Property that marks an envelope; a memoized result is very unlikely to be an object with it. */
const MARK = 'cacheado:staleAt'

/** A stored memoized result with a grace period. */
export interface Envelope {
  readonly [MARK]: number
  readonly v: unknown
  /**
   * With `refreshAheadSeconds`: when a hit starts a background refresh (ms since the epoch, before
   * `staleAt`). Absent otherwise; older readers ignore it.
   */
  readonly r?: number
}

/**
 * `staleAt` of an envelope that only protects a result shaped like an envelope (no grace period): the
 * latest time a JavaScript Date can hold, so it is never stale; the storage's TTL still expires it.
 */
export const NEVER_STALE = 8.64e15

/** Wraps a result that becomes stale at `staleAt` (ms since the epoch). */
export function wrapEnvelope(value: unknown, staleAt: number, refreshAt?: number): Envelope {
  return refreshAt === undefined ? { [MARK]: staleAt, v: value } : { [MARK]: staleAt, v: value, r: refreshAt }
}

/** When an envelope's value becomes stale (ms since the epoch; {@link NEVER_STALE}: never). */
export function staleAtOf(envelope: Envelope): number {
  return envelope[MARK]
}

/** Whether a fresh envelope is due for a refresh ahead of its expiry at `now`. */
export function isRefreshDue(envelope: Envelope, now: number): boolean {
  const at = envelope.r
  return typeof at === 'number' && now >= at
}

/**
 * Whether what the storage returned for a memoized key is an envelope. Anything else (written without a
 * grace period, e.g. before `graceSeconds` was added) is a plain fresh value, expired by the storage.
 */
export function isEnvelope(stored: unknown): stored is Envelope {
  return (
    stored !== null &&
    typeof stored === 'object' &&
    typeof (stored as Partial<Envelope>)[MARK] === 'number' &&
    !Array.isArray(stored)
  )
}

/** Whether an envelope's value is stale at `now` (ms since the epoch). */
export function isStale(envelope: Envelope, now: number): boolean {
  return now >= envelope[MARK]
}
