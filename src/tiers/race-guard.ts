import type { EntryRef, ScopePath } from '../storage/contract.js'
import { encodeEntryRef, encodeScopePath } from '../storage/key-encoding.js'

/**
 * The local tier's race guard: which reads and writes of the shared storage may still fill L1 when
 * they end.
 *
 * Invariant: an operation that began (`begin`) before an invalidation of its entry, of one of the
 * entry's ancestor scopes, or of everything (`entryDropped`, `scopeDropped`) sees
 * `invalidatedSince(ref, start)` true when it ends, so it keeps no copy that may predate the
 * invalidation. Every invalidation bumps an epoch; while operations are in flight it is also recorded
 * under the encoded ref or scope path (the root scope as a flush), and the records are cleared once
 * the last operation in flight has ended (`end`), so memory stays bounded by what changed meanwhile.
 * Every `begin` must be paired with one `end`, after the operation's last `invalidatedSince`.
 */
export class RaceGuard {
  #epoch = 0
  /** Operations between `begin` and `end`. */
  #pending = 0
  /** Epoch of the last invalidation of everything while operations were in flight; -1: none. */
  #flushedAt = -1
  readonly #entryEpochs = new Map<string, number>()
  readonly #scopeEpochs = new Map<string, number>()

  /** An operation starts: resolves the epoch to pass to `invalidatedSince` when it ends. */
  begin(): number {
    this.#pending++
    return this.#epoch
  }

  /** An operation ended (whatever its outcome): the last one in flight clears the records. */
  end(): void {
    if (--this.#pending === 0) {
      this.#entryEpochs.clear()
      this.#scopeEpochs.clear()
      this.#flushedAt = -1
    }
  }

  /** `ref` was invalidated. */
  entryDropped(ref: EntryRef): void {
    const epoch = ++this.#epoch
    if (this.#pending !== 0) this.#entryEpochs.set(encodeEntryRef(ref), epoch)
  }

  /** The scope at `path` and everything under it was invalidated (`[]`: everything). */
  scopeDropped(path: ScopePath): void {
    const epoch = ++this.#epoch
    if (this.#pending !== 0) {
      if (path.length === 0) this.#flushedAt = epoch
      else this.#scopeEpochs.set(encodeScopePath(path), epoch)
    }
  }

  /** Whether an invalidation of `ref`, of a scope above it, or of everything came after `start`. */
  invalidatedSince(ref: EntryRef, start: number): boolean {
    if (this.#epoch === start) return false
    if (this.#flushedAt > start) return true
    // Encoded only when some entry was invalidated meanwhile (the ref is not encoded on every fill).
    if (this.#entryEpochs.size !== 0 && (this.#entryEpochs.get(encodeEntryRef(ref)) ?? -1) > start)
      return true
    if (this.#scopeEpochs.size === 0) return false
    for (let depth = 1; depth <= ref.scope.length; depth++) {
      if ((this.#scopeEpochs.get(encodeScopePath(ref.scope.slice(0, depth))) ?? -1) > start) return true
    }
    return false
  }
}
