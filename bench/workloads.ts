/**
 * Seeded access streams for the hit-ratio suite (`hit-ratio.ts`). Every stream is an `Int32Array` of
 * key numbers, generated from a fixed seed, so a run is reproducible on any machine and Node version.
 */

/** A seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A zipf(`s`) sampler over ranks 0..n-1 (rank 0 the most popular), by inversion of the CDF. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s)
  for (let i = 0; i < n; i++) cdf[i]! /= sum
  return () => {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * Scatters ranks over key numbers (a seeded permutation), so that popularity is not tied to the order
 * keys were numbered in (a hash-based policy must not profit from it).
 */
function permutation(n: number, random: () => number): Int32Array {
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = p[i]!
    p[i] = p[j]!
    p[j] = t
  }
  return p
}

/** `length` accesses to `keys` keys, zipf(`s`)-distributed. */
export function zipfStream(length: number, keys: number, s: number, seed: number): Int32Array {
  const random = prng(seed)
  const sample = zipfSampler(keys, s, random)
  const names = permutation(keys, random)
  const out = new Int32Array(length)
  for (let i = 0; i < length; i++) out[i] = names[sample()]!
  return out
}

/**
 * A hot set of `hot` keys read zipf(0.8), with a one-pass scan of fresh keys mixed in: each access is
 * the next scan key with probability `scanShare` (scan keys are never read again).
 */
export function scanMixStream(length: number, hot: number, scanShare: number, seed: number): Int32Array {
  const random = prng(seed)
  const sample = zipfSampler(hot, 0.8, random)
  const out = new Int32Array(length)
  let next = hot
  for (let i = 0; i < length; i++) out[i] = random() < scanShare ? next++ : sample()
  return out
}

/** The keys 0..loop-1 read in order, over and over (a loop a little larger than the cache). */
export function loopStream(length: number, loop: number): Int32Array {
  const out = new Int32Array(length)
  for (let i = 0; i < length; i++) out[i] = i % loop
  return out
}

/**
 * Recency-skewed ("latest"): each access is a new key with probability `newShare`, else a key written
 * recently, `d` keys back in creation order with `d` exponentially distributed with mean `meanAge`.
 * Recently created keys are the hot ones; LRU is close to the best policy here.
 */
export function recencyStream(length: number, newShare: number, meanAge: number, seed: number): Int32Array {
  const random = prng(seed)
  const out = new Int32Array(length)
  let created = 1
  for (let i = 0; i < length; i++) {
    if (random() < newShare) {
      out[i] = created++
      continue
    }
    const age = Math.floor(-Math.log(1 - random()) * meanAge)
    out[i] = Math.max(0, created - 1 - age)
  }
  return out
}
