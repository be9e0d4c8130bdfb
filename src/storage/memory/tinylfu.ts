import { FrequencySketch } from './frequency-sketch.js'

/**
 * W-TinyLFU for one group of a `'tinylfu'` bound (the whole store, or one instance of its `per` level).
 *
 * Segments (each an intrusive LRU list, oldest first):
 * - the window: every new entry starts here; it absorbs bursts of new keys, so a key written then read
 *   right away is kept whatever its frequency;
 * - probation and protected, the main space (a segmented LRU): an entry admitted from the window enters
 *   probation; a hit in probation promotes it to protected (80% of the main space); protected's
 *   overflow goes back to probation.
 *
 * Admission: when the group is over its bound, the oldest window entry over the window's quota (the
 * candidate) competes with the oldest probation entry (the victim): the one with the higher estimated
 * frequency ({@link FrequencySketch}) stays, a tie keeps the victim (a scan of keys seen once never
 * flushes entries in use). A candidate at frequency 6 or more that loses is still admitted with
 * probability 1/128, so that an attacker cannot pin a victim by hammering colliding keys.
 *
 * Adaptive window (hill climbing): once the group is full, it counts hits and insertions (misses).
 * After each sample of them it moves the window's quota by a step in the direction that last improved
 * the hit ratio (reversing when the ratio fell; a step that could not move, against a wall, reverses
 * only on a drop of 5 points, so noise does not pull a settled window off its wall); the step shrinks
 * by 2% per sample, and restarts at 25% of the bound when the ratio moves by 5 points or more (the
 * workload changed). The first step points down, into the lower wall: while the cache warms up the
 * hit ratio trends on its own (up on a frequency-skewed stream, which must not read as "a larger
 * window helped"; down on a recency-skewed one, which reverses the climb towards a large window). Samples start at half the bound and grow by 25% each up to 10x the bound (short
 * ones first, to find the region fast; long ones after, so noise does not move it). Recency-skewed
 * workloads grow the window (towards LRU), frequency-skewed ones shrink it. The window keeps at least
 * one entry, and grows at the main space's expense only where its oldest entry outranks the victim
 * (so that a scan cannot flush the main space through a growing window).
 *
 * These figures were chosen by measurement (bench/hit-ratio.ts); Caffeine's (samples of 10x the
 * bound, 6.25% steps) lost 4 points against LRU on the recency-skewed stream at 1 000 entries. With a
 * first step up and 12.5% steps, the warm-up trend of the zipf stream walked the window up to 70% of
 * the bound at 8 000 entries (+3.7 points over LRU; +5.0 with this climber, same sketch), and the
 * recency-skewed stream took 300 000 accesses to reach a full window (-2.4 points; -0.6 with this one).
 *
 * Invariants: `size` is the number of linked nodes; every node is in exactly the segment its `segment`
 * says; the entry most recently added is never the one {@link TinyLfuGroup.victim} returns.
 */
export class TinyLfuGroup<E> {
  /** Entries in the group (all segments). */
  size = 0
  /** Sum of the entries' sizes, kept by the store (byte budgets). */
  bytes = 0
  readonly #window = new Segment<E>()
  readonly #probation = new Segment<E>()
  readonly #protected = new Segment<E>()
  #windowMax = 1
  #protectedMax = 0
  /** The window quota the climber aims at (fractional; the quota is its rounding). */
  #windowTarget: number
  /** Allocated once the group is half full: until then nothing is evicted, frequencies are not needed. */
  #sketch: FrequencySketch | null = null
  #hits = 0
  #misses = 0
  #previousHitRate = 0
  /** Whether the last step moved the window's target (false: it was against a wall). */
  #moved = true
  /** Accesses per sample: grows from `maxItems` to `10 x maxItems`. */
  #sampleSize: number
  #step: number
  #random = 0x2545f491

  /** `maxItems`: the group's bound (a positive integer). */
  constructor(readonly maxItems: number) {
    this.#windowTarget = maxItems * INITIAL_WINDOW
    // The first step shrinks the window, which starts against its lower wall: a frequency-skewed
    // workload (its hit ratio rising while the cache warms up) keeps it there, a recency-skewed one
    // (its hit ratio falling while the window is small) reverses it into a growing window at once.
    this.#step = -maxItems * STEP
    this.#sampleSize = Math.max(SAMPLE_MIN, maxItems * SAMPLE_FACTOR)
    this.#applyWindow()
  }

  /** Links a new entry at the window's tail; the caller evicts {@link victim}s while `size > maxItems`. */
  add(entry: E, hash: number): LfuNode<E> {
    const node = new LfuNode(entry, hash, this)
    const window = this.#window
    window.push(node)
    this.size++
    // While the main space has room (the group is filling up), the window's overflow moves there
    // without a contest; once it is full, the overflow is the candidate that {@link victim} weighs.
    while (window.size > this.#windowMax && this.size - window.size < this.maxItems - this.#windowMax) {
      this.#toProbation(window.head!)
    }
    if (this.#sketch === null && (this.size * 2 >= this.maxItems || this.maxItems <= SMALL)) {
      this.#sketch = new FrequencySketch(this.maxItems)
    }
    this.#sketch?.increment(hash)
    this.#misses++
    this.#sample()
    return node
  }

  /** A read hit: counts for the frequency, the hit ratio and the node's place. */
  accessed(node: LfuNode<E>): void {
    this.#sketch?.increment(node.hash)
    this.#hits++
    this.#promote(node)
    this.#sample()
  }

  /** An overwrite of an entry in place: counts for the frequency and the node's place. */
  written(node: LfuNode<E>): void {
    this.#sketch?.increment(node.hash)
    this.#promote(node)
  }

  /** Unlinks a node (the entry was removed for whatever reason). */
  remove(node: LfuNode<E>): void {
    this.#segment(node.segment).unlink(node)
    this.size--
  }

  /**
   * The entry to evict next (the group must be over its bound); the caller removes it, which calls
   * {@link remove}. Moves admitted candidates from the window into probation on the way.
   */
  victim(): E {
    const window = this.#window
    for (;;) {
      const candidate = window.size > this.#windowMax ? window.head : null
      const victim = this.#probation.head ?? this.#protected.head
      if (candidate === null) {
        // The window is within its quota (the climber is growing it): it grows at the expense of the
        // main space only where its oldest entry outranks the victim, so a scan cannot flush main.
        if (victim === null) return window.head!.entry
        const oldest = window.head
        if (oldest === null || oldest === window.tail) return victim.entry
        return this.#admits(oldest.hash, victim.hash) ? victim.entry : oldest.entry
      }
      if (victim === null || this.#admits(candidate.hash, victim.hash)) {
        this.#toProbation(candidate)
        if (victim !== null) return victim.entry
        continue
      }
      return candidate.entry
    }
  }

  /** Moves a window node to probation's tail. */
  #toProbation(node: LfuNode<E>): void {
    this.#window.unlink(node)
    node.segment = PROBATION
    this.#probation.push(node)
  }

  /** Whether the candidate wins against the victim (see the class comment). */
  #admits(candidate: number, victim: number): boolean {
    const sketch = this.#sketch
    if (sketch === null) return true
    const candidateFrequency = sketch.frequency(candidate)
    const victimFrequency = sketch.frequency(victim)
    if (candidateFrequency > victimFrequency) return true
    if (candidateFrequency < HASH_FLOODING_THRESHOLD) return false
    let x = this.#random
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#random = x
    return (x & 127) === 0
  }

  /** Moves a node after a use: to its segment's tail, or from probation to protected. */
  #promote(node: LfuNode<E>): void {
    if (node.segment !== PROBATION) {
      const segment = this.#segment(node.segment)
      if (segment.tail !== node) {
        segment.unlink(node)
        segment.push(node)
      }
      return
    }
    this.#probation.unlink(node)
    node.segment = PROTECTED
    this.#protected.push(node)
    this.#demoteProtectedOverflow()
  }

  #demoteProtectedOverflow(): void {
    while (this.#protected.size > this.#protectedMax) {
      const demoted = this.#protected.head!
      this.#protected.unlink(demoted)
      demoted.segment = PROBATION
      this.#probation.push(demoted)
    }
  }

  #segment(segment: number): Segment<E> {
    return segment === WINDOW ? this.#window : segment === PROBATION ? this.#probation : this.#protected
  }

  /** Hill climbing, once per sample (see the class comment). */
  #sample(): void {
    const total = this.#hits + this.#misses
    if (total < this.#sampleSize) return
    if (this.size < this.maxItems) {
      this.#hits = 0
      this.#misses = 0
      return
    }
    this.#sampleSize = Math.max(
      SAMPLE_MIN,
      Math.min(this.#sampleSize * SAMPLE_GROWTH, SAMPLE_MAX * this.maxItems),
    )
    const hitRate = this.#hits / total
    const change = hitRate - this.#previousHitRate
    // Against a wall (the last step could not move the window), a small change is noise: keep pushing.
    const keep = change >= 0 || (!this.#moved && change > -RESTART_THRESHOLD)
    const amount = keep ? this.#step : -this.#step
    this.#step =
      Math.abs(change) >= RESTART_THRESHOLD ? Math.sign(amount || 1) * STEP * this.maxItems : amount * DECAY
    this.#previousHitRate = hitRate
    this.#hits = 0
    this.#misses = 0
    const before = this.#windowTarget
    this.#windowTarget = Math.min(Math.max(this.#windowTarget + amount, 1), this.maxItems)
    this.#moved = this.#windowTarget !== before
    this.#applyWindow()
  }

  /** Sets the window and protected quotas from the target; entries move lazily, at the next evictions. */
  #applyWindow(): void {
    const max = this.maxItems
    this.#windowMax = Math.min(Math.max(1, Math.round(this.#windowTarget)), Math.max(1, max - 1))
    this.#protectedMax = Math.floor((max - this.#windowMax) * PROTECTED_SHARE)
    this.#demoteProtectedOverflow()
  }
}

/** A member of a {@link TinyLfuGroup}: the entry, its hash for the sketch, its links and segment. */
export class LfuNode<E> {
  prev: LfuNode<E> | null = null
  next: LfuNode<E> | null = null
  /** {@link WINDOW}, {@link PROBATION} or {@link PROTECTED}. */
  segment = WINDOW

  constructor(
    readonly entry: E,
    readonly hash: number,
    readonly group: TinyLfuGroup<E>,
  ) {}
}

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2
/** Groups bounded at this many entries or fewer get their sketch (256 bytes) with their first entry. */
const SMALL = 64
/** The window's initial share of the bound. */
const INITIAL_WINDOW = 0.01
/** Protected's share of the main space. */
const PROTECTED_SHARE = 0.8
/** The first sample of the climber, per entry of the bound. */
const SAMPLE_FACTOR = 0.5
/** Each sample is this much longer than the previous one, up to {@link SAMPLE_MAX} x the bound. */
const SAMPLE_GROWTH = 1.25
/** The longest sample, per entry of the bound (Caffeine's figure). */
const SAMPLE_MAX = 10
/** The shortest sample, in accesses (tiny groups). */
const SAMPLE_MIN = 32
/**
 * The climber's step (share of the bound) when it (re)starts: large, so that a recency-skewed stream
 * reaches a full window within a few samples (short samples, large steps; the decay settles it).
 */
const STEP = 0.25
/** The step shrinks by this factor per sample. */
const DECAY = 0.98
/** A change of the hit ratio this large restarts the climb at the full step. */
const RESTART_THRESHOLD = 0.05
/** A losing candidate at this frequency or more is admitted with probability 1/128. */
const HASH_FLOODING_THRESHOLD = 6

/** An intrusive doubly linked list of nodes, oldest first. */
class Segment<E> {
  head: LfuNode<E> | null = null
  tail: LfuNode<E> | null = null
  size = 0

  push(node: LfuNode<E>): void {
    node.prev = this.tail
    node.next = null
    if (this.tail === null) this.head = node
    else this.tail.next = node
    this.tail = node
    this.size++
  }

  unlink(node: LfuNode<E>): void {
    const { prev, next } = node
    if (prev === null) this.head = next
    else prev.next = next
    if (next === null) this.tail = prev
    else next.prev = prev
    node.prev = null
    node.next = null
    this.size--
  }
}
