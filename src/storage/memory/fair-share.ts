/**
 * The tenants of a fair cache-wide bound ({@link BoundPolicy.fairness}) and how many entries each holds,
 * with the one holding the most (the furthest over its fair share: the share, bound / tenants holding
 * entries, is the same for every tenant) found in O(1).
 *
 * A tenant is a group `G` of the bound (its own LRU list, insertion list or TinyLFU group); the store
 * calls {@link added} and {@link removed} as entries join and leave a group. Counts move by one at a
 * time, so tenants are kept in buckets by count (a doubly linked list per count) with the highest
 * non-empty count tracked: every call is O(1) (the highest count falls by at most one per removal).
 *
 * Ties: {@link largest} returns the first tenant of the highest bucket. A tenant whose count was raised
 * joins its bucket last, so the entry just written is never evicted while another tenant holds as many
 * entries; a tenant whose count was lowered (it just lost an entry) joins its bucket first, so a full
 * bound keeps evicting from the same tenant among equals instead of spreading the losses.
 *
 * Invariants: `total` is the sum of the counts; a tenant is in the bucket of its count, and only while
 * its count is positive (an emptied tenant leaves no trace); `#max` is the highest non-empty bucket.
 *
 * @see BoundPolicy.fairness
 */
export class FairShare<G extends object> {
  /** Entries of the bound, across tenants. */
  total = 0
  readonly #slots = new Map<G, Slot<G>>()
  /** First and last tenant of each bucket, by count (index 0 unused). */
  #heads: (Slot<G> | null)[] = [null]
  #tails: (Slot<G> | null)[] = [null]
  #max = 0

  /** Tenants holding at least one entry. */
  get tenants(): number {
    return this.#slots.size
  }

  /** Entries held by `group` (0 when it holds none). */
  countOf(group: G): number {
    return this.#slots.get(group)?.count ?? 0
  }

  /** An entry joined `group`. */
  added(group: G): void {
    this.total++
    let slot = this.#slots.get(group)
    if (slot === undefined) this.#slots.set(group, (slot = new Slot(group)))
    else this.#leave(slot)
    slot.count++
    this.#enter(slot, false)
    if (slot.count > this.#max) this.#max = slot.count
  }

  /** An entry left `group` (the group must hold one). */
  removed(group: G): void {
    const slot = this.#slots.get(group)
    if (slot === undefined) return
    this.total--
    this.#leave(slot)
    slot.count--
    if (slot.count === 0) this.#slots.delete(group)
    else this.#enter(slot, true)
    if (this.#max > 0 && this.#heads[this.#max] === null) this.#max--
  }

  /** The tenant holding the most entries (see the class comment for ties); the bound must hold some. */
  largest(): G {
    return this.#heads[this.#max]!.group
  }

  /** Forgets every tenant (the store was cleared). */
  clear(): void {
    this.total = 0
    this.#slots.clear()
    this.#heads = [null]
    this.#tails = [null]
    this.#max = 0
  }

  /** Links `slot` into the bucket of its count, first or last. */
  #enter(slot: Slot<G>, first: boolean): void {
    const count = slot.count
    while (this.#heads.length <= count) {
      this.#heads.push(null)
      this.#tails.push(null)
    }
    if (first) {
      const head = this.#heads[count] ?? null
      slot.prev = null
      slot.next = head
      if (head === null) this.#tails[count] = slot
      else head.prev = slot
      this.#heads[count] = slot
      return
    }
    const tail = this.#tails[count] ?? null
    slot.prev = tail
    slot.next = null
    if (tail === null) this.#heads[count] = slot
    else tail.next = slot
    this.#tails[count] = slot
  }

  #leave(slot: Slot<G>): void {
    const count = slot.count
    if (slot.prev === null) this.#heads[count] = slot.next
    else slot.prev.next = slot.next
    if (slot.next === null) this.#tails[count] = slot.prev
    else slot.next.prev = slot.prev
    slot.prev = slot.next = null
  }
}

/** A tenant's place in its bucket. */
class Slot<G> {
  count = 0
  prev: Slot<G> | null = null
  next: Slot<G> | null = null

  constructor(readonly group: G) {}
}
