/**
 * The in-memory tag index: for each tag, the set of entries carrying it. Eager: a write puts its entry
 * in the sets of its tags and every removal takes it out of them at once, so a read never looks at the
 * index, an invalidation costs O(entries carrying the tags), and no set outlives its last entry (memory
 * is freed as soon as an entry goes, whatever removed it).
 */
export class TagIndex<E extends { tags: readonly string[] | null }> {
  readonly #byTag = new Map<string, Set<E>>()

  /** Number of tags that hold at least one entry (diagnostics: no garbage is left behind). */
  get size(): number {
    return this.#byTag.size
  }

  /** Gives `entry` the tags `tags` (`null`: none), leaving the sets of the tags it had before. */
  retag(entry: E, tags: readonly string[] | null): void {
    if (entry.tags !== null) this.remove(entry)
    entry.tags = tags
    if (tags === null) return
    for (const tag of tags) {
      let set = this.#byTag.get(tag)
      if (set === undefined) this.#byTag.set(tag, (set = new Set()))
      set.add(entry)
    }
  }

  /** Takes `entry` out of the sets of its tags (it keeps its `tags` field). */
  remove(entry: E): void {
    const tags = entry.tags
    if (tags === null) return
    for (const tag of tags) {
      const set = this.#byTag.get(tag)
      if (set === undefined) continue
      set.delete(entry)
      if (set.size === 0) this.#byTag.delete(tag)
    }
  }

  /** The entries carrying at least one of `tags`, each once (a snapshot: safe to remove while iterating). */
  carrying(tags: readonly string[]): E[] {
    if (tags.length === 1) return [...(this.#byTag.get(tags[0]!) ?? [])]
    const found = new Set<E>()
    for (const tag of tags) for (const entry of this.#byTag.get(tag) ?? []) found.add(entry)
    return [...found]
  }

  /** Forgets every tag (the store was cleared). */
  clear(): void {
    this.#byTag.clear()
  }
}
