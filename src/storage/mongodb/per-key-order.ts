/**
 * Per-key ordering of one process's operations on a storage whose replies can overtake each other
 * (a MongoDB connection pool sends concurrent operations on different sockets).
 *
 * Invariant: for one key, a write (set or delete) starts only after every read issued before it has
 * settled, and a read starts only after the write issued before it has settled. Reads of one key still
 * run concurrently with each other. So within a process one key behaves as if operations took effect
 * in the order they were issued, as on the in-memory storage; the cache's single flight relies on it (a
 * read that missed before a memoized result was stored must not answer after the flight has ended).
 */
export class PerKeyOrder {
  readonly #keys = new Map<string, KeyState>()

  /** Runs a read of `id` once the write issued before it has settled. */
  read<T>(id: string, run: () => Promise<T>): Promise<T> {
    const state = this.#state(id)
    const result = state.write === undefined ? run() : state.write.then(run)
    const settled = result.then(noop, noop)
    state.reads.add(settled)
    void settled.then(() => {
      state.reads.delete(settled)
      this.#release(id, state)
    })
    return result
  }

  /**
   * Runs one read of several ids (duplicates allowed) once the writes issued before it on any of them
   * have settled; later writes of those ids wait for it, as for {@link PerKeyOrder.read}.
   */
  readMany<T>(ids: readonly string[], run: () => Promise<T>): Promise<T> {
    const unique = [...new Set(ids)]
    const states = unique.map((id) => this.#state(id))
    const before = states.flatMap((state) => (state.write === undefined ? [] : [state.write]))
    const result = before.length === 0 ? run() : Promise.all(before).then(run)
    const settled = result.then(noop, noop)
    states.forEach((state, i) => {
      state.reads.add(settled)
      void settled.then(() => {
        state.reads.delete(settled)
        this.#release(unique[i]!, state)
      })
    })
    return result
  }

  /**
   * Runs one write of several ids (none repeated) once every operation issued before it on any of them
   * has settled; later operations on those ids wait for it, as for {@link PerKeyOrder.write}.
   */
  writeMany<T>(ids: readonly string[], run: () => Promise<T>): Promise<T> {
    const states = ids.map((id) => this.#state(id))
    const before = states.flatMap((state) => [
      ...state.reads,
      ...(state.write === undefined ? [] : [state.write]),
    ])
    const result = before.length === 0 ? run() : Promise.all(before).then(run)
    const settled = result.then(noop, noop)
    states.forEach((state, i) => {
      state.write = settled
      void settled.then(() => {
        if (state.write === settled) state.write = undefined
        this.#release(ids[i]!, state)
      })
    })
    return result
  }

  /** Runs a write of `id` once every operation issued before it on `id` has settled. */
  write<T>(id: string, run: () => Promise<T>): Promise<T> {
    const state = this.#state(id)
    const before = [...state.reads]
    if (state.write !== undefined) before.push(state.write)
    const result = before.length === 0 ? run() : Promise.all(before).then(run)
    const settled = result.then(noop, noop)
    state.write = settled
    void settled.then(() => {
      if (state.write === settled) state.write = undefined
      this.#release(id, state)
    })
    return result
  }

  #state(id: string): KeyState {
    let state = this.#keys.get(id)
    if (state === undefined) this.#keys.set(id, (state = { write: undefined, reads: new Set() }))
    return state
  }

  /** Forgets idle keys, so that the map only holds keys with operations in flight. */
  #release(id: string, state: KeyState): void {
    if (state.write === undefined && state.reads.size === 0 && this.#keys.get(id) === state)
      this.#keys.delete(id)
  }
}

interface KeyState {
  /** Settles when the last write issued on the key has settled. */
  write: Promise<void> | undefined
  /** Settle when the reads issued since (and before) that write have settled. */
  reads: Set<Promise<void>>
}

function noop(): void {}
