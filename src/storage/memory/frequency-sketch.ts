/**
 * A count-min sketch of access frequencies with 4-bit counters and a doorkeeper, for the TinyLFU
 * admission policy (see `tinylfu.ts`).
 *
 * Layout: a `Uint32Array` of `words` words (a power of two, at least the bound's capacity), each holding
 * eight 4-bit counters. An item's frequency is the smallest of the four counters its hash selects (four
 * derived hashes over the one table), plus one for the access the doorkeeper took; an access increments
 * those four counters, each saturating at 15.
 *
 * Doorkeeper: a bloom filter (two bits per key, 32 bits per word of the table) that takes a key's first
 * access, so that keys seen once (a scan) never reach the counters and cannot inflate, through hash
 * collisions, the estimates of the keys in use. It is cleared at each aging, and when it has taken
 * `4 x words` keys.
 *
 * Aging: after `7 x capacity` counter increments every counter is halved (one pass, shift and mask), so
 * that what was popular long ago fades and the sketch keeps following the current workload. Caffeine
 * halves after 10 x (and has no doorkeeper). Measured here (bench/hit-ratio.ts, with the window's
 * climber of `tinylfu.ts`): 10 x lost 1.3 points against LRU on the recency-skewed stream at 4 000
 * entries; 3 x left zipf(0.99) at +5.0 points over LRU at 8 000 entries (the estimates of keys near the
 * bound's rank are mostly zero over a short period); 7 x gives +5.4 there and stays within 0.8 points
 * of LRU on the recency-skewed stream at 1 000 to 8 000 entries. The doorkeeper keeps a hot set through
 * a scan 10x the bound.
 *
 * Memory: 8 bytes per entry of the bound (rounded up to a power of two); allocated by the policy only
 * once its group is half full (at once for bounds of 64 or less), so that tenants holding a few entries
 * cost nothing.
 */
export class FrequencySketch {
  readonly #table: Uint32Array
  /** Counter index mask: `words * 8 - 1`. */
  readonly #mask: number
  readonly #sampleSize: number
  #additions = 0
  /** The doorkeeper: a bloom filter (2 bits per key) of keys seen once since it was last cleared. */
  readonly #door: Uint32Array
  readonly #doorMask: number
  #doorCount = 0
  readonly #doorLimit: number

  /** `capacity`: the bound's size (a positive integer). */
  constructor(capacity: number) {
    let words = 8
    while (words < capacity && words < 1 << 26) words *= 2
    this.#table = new Uint32Array(words)
    this.#mask = words * 8 - 1
    this.#sampleSize = AGING_FACTOR * Math.max(capacity, 8)
    this.#door = new Uint32Array(words)
    this.#doorMask = words * 32 - 1
    this.#doorLimit = words * 4
  }

  /** The estimated number of recent accesses of the item with this 32-bit hash (0..15). */
  frequency(hash: number): number {
    const table = this.#table
    let min = 15
    for (let i = 0; i < 4; i++) {
      const index = counterIndex(hash, i) & this.#mask
      const count = (table[index >>> 3]! >>> ((index & 7) << 2)) & 15
      if (count < min) min = count
    }
    // A key with counts passed the doorkeeper once: its first access counts even after the
    // doorkeeper was cleared, so clearing it does not lower the estimates of the keys in use.
    return min !== 0 || this.#inDoor(hash) ? min + 1 : 0
  }

  /** Whether the doorkeeper has seen the hash (both of its bits set). */
  #inDoor(hash: number): boolean {
    const door = this.#door
    const a = hash & this.#doorMask
    const b = doorHash(hash) & this.#doorMask
    return ((door[a >>> 5]! >>> (a & 31)) & 1) === 1 && ((door[b >>> 5]! >>> (b & 31)) & 1) === 1
  }

  /**
   * Records one access of the item with this hash. The first one only marks the doorkeeper; later
   * ones increment the counters, and every counter is halved once per aging period.
   */
  increment(hash: number): void {
    if (!this.#inDoor(hash)) {
      const door = this.#door
      const a = hash & this.#doorMask
      const b = doorHash(hash) & this.#doorMask
      door[a >>> 5] = door[a >>> 5]! | (1 << (a & 31))
      door[b >>> 5] = door[b >>> 5]! | (1 << (b & 31))
      // Full enough that false positives would grow: start over (keys seen once are forgotten).
      if (++this.#doorCount >= this.#doorLimit) this.#clearDoor()
      return
    }
    const table = this.#table
    let added = false
    for (let i = 0; i < 4; i++) {
      const index = counterIndex(hash, i) & this.#mask
      const word = index >>> 3
      const shift = (index & 7) << 2
      if (((table[word]! >>> shift) & 15) !== 15) {
        table[word] = table[word]! + (1 << shift)
        added = true
      }
    }
    if (added && ++this.#additions >= this.#sampleSize) this.#age()
  }

  /** Halves every counter (each nibble shifted right; the bit that crosses into a neighbour is masked off). */
  #age(): void {
    const table = this.#table
    for (let i = 0; i < table.length; i++) table[i] = (table[i]! >>> 1) & 0x77777777
    this.#additions = this.#additions >>> 1
    this.#clearDoor()
  }

  #clearDoor(): void {
    this.#door.fill(0)
    this.#doorCount = 0
  }
}

/** Counters are halved after this many aging increments per entry of the capacity. */
const AGING_FACTOR = 7

/** Seeds of the four derived hashes (odd constants). */
const SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f] as const

/** The `i`-th counter of a hash: the hash remixed with its own seed (a 32-bit finaliser). */
function counterIndex(hash: number, i: number): number {
  let h = Math.imul(hash ^ SEEDS[i as 0 | 1 | 2 | 3], 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** The doorkeeper's second bit for a hash. */
function doorHash(hash: number): number {
  return (hash >>> 13) ^ Math.imul(hash, 0x9e3779b1)
}

/** A 32-bit FNV-1a hash of a string, continuing from `seed` (chain it to hash several strings). */
export function hashString(value: string, seed: number): number {
  let h = seed ^ 0x811c9dc5
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193)
  // A separator, so that ('ab', 'c') and ('a', 'bc') differ when chained.
  return Math.imul(h ^ 0xff, 0x01000193)
}
