/**
 * Bounded per-bucket counters: the "space-saving" heavy-hitter algorithm (Metwally et al., 2005) over
 * several counters per bucket.
 *
 * At most `capacity` buckets are tracked, whatever the number of distinct labels seen. A new label that
 * arrives when all slots are taken replaces the tracked bucket with the least activity; that bucket's
 * counts move to `other`, and the newcomer starts from that least activity as its rank (its own counts
 * start at zero). Invariants:
 * - memory is O(capacity);
 * - for every counter, the tracked buckets plus `other` add up to every count recorded (nothing is lost);
 * - a label whose activity exceeds `total / capacity` is always tracked (the space-saving guarantee), so
 *   the heavy tenants are the ones shown;
 * - a tracked bucket's counts are exact since it was last admitted (lower bounds of its lifetime counts).
 *
 * Slots sit in a binary min-heap ordered by rank, so recording is O(log capacity).
 */

/** Indexes of the counters kept per bucket. */
export const HITS = 0
export const MISSES = 1
export const SETS = 2
export const EVICTIONS = 3
/** One of {@link HITS}, {@link MISSES}, {@link SETS}, {@link EVICTIONS}. */
export type CounterIndex = typeof HITS | typeof MISSES | typeof SETS | typeof EVICTIONS

/** The counters of one bucket. */
export interface BucketCounts {
  /** Reads that found a value. */
  readonly hits: number
  /** Reads that found nothing. */
  readonly misses: number
  /** Writes. */
  readonly sets: number
  /** Entries removed, whatever the reason. */
  readonly evictions: number
}

/** A tracked bucket as reported by {@link TopK.report}. */
export interface TopKBucket<D> extends BucketCounts {
  readonly label: string
  /** What the owner attached when the bucket was admitted. */
  readonly detail: D
}

interface Slot<D> {
  label: string
  detail: D
  /** Activity used for ranking: the bucket's own counts plus the rank it inherited on admission. */
  rank: number
  readonly counts: [number, number, number, number]
  /** Position in the heap. */
  index: number
}

/** Counters for at most `capacity` labels plus an `other` bucket; see the module comment. */
export class TopK<D> {
  readonly capacity: number
  readonly #slots = new Map<string, Slot<D>>()
  readonly #heap: Slot<D>[] = []
  readonly #other: [number, number, number, number] = [0, 0, 0, 0]

  constructor(capacity: number) {
    this.capacity = capacity
  }

  /**
   * Adds `n` to counter `counter` of `label`. When the label is admitted, `detail` is kept with its bucket
   * (e.g. the scope path the label stands for); later calls' `detail` is ignored.
   */
  add(label: string, counter: CounterIndex, n: number, detail: D): void {
    let slot = this.#slots.get(label)
    if (slot !== undefined) {
      slot.counts[counter] += n
      slot.rank += n
      this.#down(slot.index)
      return
    }
    const heap = this.#heap
    if (heap.length < this.capacity) {
      slot = { label, detail, rank: n, counts: [0, 0, 0, 0], index: heap.length }
      slot.counts[counter] = n
      heap.push(slot)
      this.#slots.set(label, slot)
      this.#up(slot.index)
      return
    }
    // Replace the least active bucket, moving its counts to `other`.
    slot = heap[0]!
    const counts = slot.counts
    const other = this.#other
    for (let i = 0; i < 4; i++) {
      other[i]! += counts[i]!
      counts[i] = 0
    }
    this.#slots.delete(slot.label)
    slot.label = label
    slot.detail = detail
    slot.rank += n
    counts[counter] = n
    this.#slots.set(label, slot)
    this.#down(0)
  }

  /** Number of tracked buckets. */
  get size(): number {
    return this.#heap.length
  }

  /** Tracked buckets, most active first, and the `other` bucket. */
  report(): { readonly top: TopKBucket<D>[]; readonly other: BucketCounts } {
    const top = [...this.#heap]
      .sort((a, b) => b.rank - a.rank || (a.label < b.label ? -1 : 1))
      .map((slot) => ({ label: slot.label, detail: slot.detail, ...countsOf(slot.counts) }))
    return { top, other: countsOf(this.#other) }
  }

  #up(i: number): void {
    const heap = this.#heap
    const slot = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (p.rank <= slot.rank) break
      heap[i] = p
      p.index = i
      i = parent
    }
    heap[i] = slot
    slot.index = i
  }

  #down(i: number): void {
    const heap = this.#heap
    const n = heap.length
    const slot = heap[i]!
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && heap[right]!.rank < heap[left]!.rank ? right : left
      const c = heap[child]!
      if (c.rank >= slot.rank) break
      heap[i] = c
      c.index = i
      i = child
    }
    heap[i] = slot
    slot.index = i
  }
}

function countsOf(counts: readonly number[]): BucketCounts {
  return { hits: counts[HITS]!, misses: counts[MISSES]!, sets: counts[SETS]!, evictions: counts[EVICTIONS]! }
}
