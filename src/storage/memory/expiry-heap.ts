/**
 * A binary min-heap of (expiry time, item) pairs in two parallel arrays, so that reclaiming expired
 * entries costs O(expired × log n) instead of a scan. Removal is lazy: the caller decides at pop time
 * whether an item is still current (see `isCurrent` in {@link ExpiryHeap.popExpired}).
 */
export class ExpiryHeap<T> {
  #times: number[] = []
  #items: T[] = []

  get length(): number {
    return this.#times.length
  }

  push(time: number, item: T): void {
    const times = this.#times
    const items = this.#items
    let i = times.length
    times.push(time)
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (times[parent]! <= time) break
      times[i] = times[parent]!
      items[i] = items[parent]!
      i = parent
    }
    times[i] = time
    items[i] = item
  }

  /** Pops up to `limit` items whose time is `<= now`, calling `onExpired` for the current ones. */
  popExpired(
    now: number,
    limit: number,
    isCurrent: (item: T, time: number) => boolean,
    onExpired: (item: T) => void,
  ): void {
    const times = this.#times
    while (limit > 0 && times.length > 0 && times[0]! <= now) {
      const time = times[0]!
      const item = this.#popTop()
      if (isCurrent(item, time)) {
        limit--
        onExpired(item)
      }
    }
  }

  /** Drops the items that are no longer current, and duplicates of an item, in O(n log n). */
  compact(isCurrent: (item: T, time: number) => boolean): void {
    const pairs: [number, T][] = []
    const kept = new Set<T>()
    for (let i = 0; i < this.#times.length; i++) {
      const item = this.#items[i]!
      if (!kept.has(item) && isCurrent(item, this.#times[i]!)) {
        kept.add(item)
        pairs.push([this.#times[i]!, item])
      }
    }
    this.clear()
    pairs.sort((a, b) => a[0] - b[0]) // a sorted array is a valid heap
    for (const [time, item] of pairs) {
      this.#times.push(time)
      this.#items.push(item)
    }
  }

  clear(): void {
    this.#times = []
    this.#items = []
  }

  #popTop(): T {
    const times = this.#times
    const items = this.#items
    const top = items[0]!
    const lastTime = times.pop()!
    const lastItem = items.pop()!
    const n = times.length
    if (n === 0) return top
    let i = 0
    while (true) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && times[child + 1]! < times[child]!) child++
      if (times[child]! >= lastTime) break
      times[i] = times[child]!
      items[i] = items[child]!
      i = child
    }
    times[i] = lastTime
    items[i] = lastItem
    return top
  }
}
