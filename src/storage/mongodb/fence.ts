import { randomUUID } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import type { EntryRef, ScopePath, WriteFence } from '../contract.js'
import { encodeScopePath } from '../key-encoding.js'
import type { EntryDocument } from './document.js'
import { scopeKeys, upsertOne } from './document.js'
import { tagFields } from './tags.js'

/**
 * One eviction generation: `_id` is `'/'` followed by the encoded scope path that was evicted (`'/'`
 * alone for `clear()`), `gen` a random token replaced by every eviction of that path, `at` when.
 */
export interface FenceDocument {
  _id: string
  gen: string
  at: Date
}

/**
 * How long a fence document is kept after the last eviction of its path. A fence older than half of
 * this is refused by `setFenced` (the other half is the margin for clocks of processes that disagree),
 * so that a fence document deleted by the retention sweep can never make an old snapshot look current
 * (no ABA: generations are random tokens, never reused, and "no document" only means "no eviction" for
 * snapshots younger than the retention).
 */
export const FENCE_RETENTION_MS = 20 * 60_000

/** The plain-data snapshot behind a {@link WriteFence} made by {@link MongoFences}. */
interface MongoWriteFence {
  /** Which storage made it (a fence from another storage is refused). */
  readonly owner: MongoFences
  /** `Date.now()` when it was taken. */
  readonly takenAt: number
  /** The generation of each covering path (root first), `null` where none was recorded. */
  readonly gens: readonly (string | null)[]
}

/**
 * How a fenced write commits (see {@link MongoFences}): one update conditioned on the pending token
 * (MongoDB), or an update by `_id` checked afterwards (FerretDB, where other filters scan).
 */
export type CommitStyle = 'conditional' | 'by-id'

/** What {@link MongoFences.setFenced} writes: prepared (serialized and checked) by the storage. */
export interface FencedWrite {
  readonly id: string
  readonly ref: EntryRef
  readonly v: unknown
  readonly expiresAt: Date | null
  readonly tick: number
  /** The entry's checked tags; `undefined`: none (the commit unsets them). */
  readonly tags?: string[] | undefined
  /** The value's byte length (byte budgets). */
  readonly b: number
}

/**
 * Write fences on MongoDB (see `StorageProvider.fence` / `setFenced`), in the collection
 * `<collection>.fences` next to the entries, for servers without multi-document transactions
 * (FerretDB 1.x has none, and its single-document updates are a read followed by a write by `_id`).
 *
 * Protocol. `evictScope(path)` first replaces the generation of `path` ({@link bump}), then deletes
 * the documents of the scope. A fence is the generations of the entry's root-to-scope paths. A fenced
 * write:
 * 1. upserts the entry with the value held aside under `pending.<token>` (readers never see a pending
 *    value: a document without `v` is a miss);
 * 2. reads the generations again: any change means an eviction covering the entry started since the
 *    fence, and the write is given up;
 * 3. commits: moves the pending value to `v`, only if `pending.<token>` is still there (so the document
 *    was neither deleted by an eviction nor deleted and written again by someone else).
 *
 * Why it holds: an eviction that bumps before step 2 is seen there. One that bumps after step 2 deletes
 * after it too, so after step 1: it deletes the document (pending or committed), and a commit after that
 * deletion finds no `pending.<token>` and stores nothing. On MongoDB the commit is one atomic update
 * conditioned on the token. FerretDB 1.x pushes down only `{ _id }` filters (any other filter scans the
 * collection) and does not apply an update atomically with its match, so there the commit updates by
 * `_id` alone, checks the document it replaced, and step 2 is repeated after the commit: an eviction
 * that overlapped the commit is then seen, and the document is deleted again.
 */
export class MongoFences {
  readonly #fences: Collection<FenceDocument>
  readonly #db: Db
  #style: Promise<CommitStyle> | undefined

  /** `commit`: force a commit style (tests); by default it is chosen from the server's `buildInfo`. */
  constructor(db: Db, collectionName: string, commit?: CommitStyle) {
    this.#db = db
    this.#fences = db.collection<FenceDocument>(`${collectionName}.fences`)
    if (commit !== undefined) this.#style = Promise.resolve(commit)
  }

  /** The collection the generations live in. */
  get collection(): Collection<FenceDocument> {
    return this.#fences
  }

  /** Takes a snapshot of the generations covering `ref`. */
  async take(ref: EntryRef): Promise<WriteFence> {
    const takenAt = Date.now()
    const fence: MongoWriteFence = { owner: this, takenAt, gens: await this.#read(ref.scope) }
    return fence
  }

  /** Records an eviction of `path` (before its documents are deleted). */
  async bump(path: ScopePath): Promise<void> {
    await upsertOne(this.#fences, { _id: fenceId(path) }, { $set: { gen: randomUUID(), at: new Date() } })
  }

  /** Deletes generations older than the retention; resolves how many. */
  async sweep(): Promise<number> {
    const { deletedCount } = await this.#fences.deleteMany({
      at: { $lt: new Date(Date.now() - FENCE_RETENTION_MS) },
    })
    return deletedCount
  }

  /**
   * Writes `write` unless an eviction covering it started since `fence` was taken (protocol above);
   * resolves whether the value was stored. Refuses a fence not made by this object, or older than half
   * of {@link FENCE_RETENTION_MS}.
   */
  async setFenced(
    collection: Collection<EntryDocument>,
    write: FencedWrite,
    fence: WriteFence,
  ): Promise<boolean> {
    const snapshot = fence as Partial<MongoWriteFence>
    if (
      snapshot.owner !== this ||
      typeof snapshot.takenAt !== 'number' ||
      !Array.isArray(snapshot.gens) ||
      Date.now() - snapshot.takenAt > FENCE_RETENTION_MS / 2
    ) {
      return false
    }
    const { id, ref, v, expiresAt, tick, tags, b } = write
    const token = randomUUID().replace(/-/g, '')
    const pending = `pending.${token}`
    // 1. The value, aside. A new document expires soon unless committed (a crash leaves no live entry).
    await upsertOne(collection, { _id: id }, {
      $set: { [pending]: { v, expiresAt } },
      $setOnInsert: {
        scopes: scopeKeys(ref.scope),
        createdAt: tick,
        accessedAt: tick,
        expiresAt: new Date(Date.now() + FENCE_RETENTION_MS),
      },
    } as never)
    // 2. Any eviction since the fence?
    if (!sameGens(snapshot.gens, await this.#read(ref.scope))) {
      await this.#withdraw(collection, id, pending)
      return false
    }
    // 3. Commit.
    const [$set, $unset] = tagFields(
      { v, b, expiresAt, accessedAt: tick, scopes: scopeKeys(ref.scope) },
      tags,
      {
        [pending]: '',
      },
    )
    const commit = { $set, $unset } as never
    if ((await this.#commitStyle()) === 'conditional') {
      const { matchedCount } = await collection.updateOne({ _id: id, [pending]: { $exists: true } }, commit)
      return matchedCount === 1
    }
    const before = await collection.findOneAndUpdate({ _id: id }, commit, { returnDocument: 'before' })
    if (before === null) return false
    const held = (before as { pending?: Record<string, unknown> }).pending
    if (held === undefined || held === null || !(token in held)) {
      // Deleted and written again by someone else meanwhile: what we just wrote may be stale.
      await collection.deleteOne({ _id: id })
      return false
    }
    if (!sameGens(snapshot.gens, await this.#read(ref.scope))) {
      // An eviction overlapped the commit: delete again what it may have missed.
      await collection.deleteOne({ _id: id })
      return false
    }
    return true
  }

  /**
   * Takes back a pending value that will not be committed; a document left with neither a value nor
   * another writer's pending value (the one step 1 created) is deleted, so that none is left behind.
   * (Not atomic on FerretDB: a value committed in between by another process may be deleted with it,
   * which loses a cached value but never brings back an evicted one.)
   */
  async #withdraw(collection: Collection<EntryDocument>, id: string, pending: string): Promise<void> {
    const after = await collection.findOneAndUpdate({ _id: id }, { $unset: { [pending]: '' } } as never, {
      returnDocument: 'after',
    })
    if (after === null || after.v !== undefined) return
    const others = (after as { pending?: Record<string, unknown> }).pending
    if (others === undefined || others === null || Object.keys(others).length === 0)
      await collection.deleteOne({ _id: id })
  }

  /** The current generations of the root and of every ancestor-or-self path of `scope`. */
  async #read(scope: ScopePath): Promise<(string | null)[]> {
    const ids = ['/', ...scopeKeys(scope).map((key) => `/${key}`)]
    // Point lookups by `_id` (the one filter every MongoDB-wire server serves from its index).
    const docs = await Promise.all(
      ids.map((_id) => this.#fences.findOne({ _id }, { projection: { gen: 1 } })),
    )
    return docs.map((doc) => (doc === null ? null : doc.gen))
  }

  /** Conditional commits on MongoDB; by `_id` on FerretDB (whose other filters scan the collection). */
  #commitStyle(): Promise<CommitStyle> {
    this.#style ??= this.#db.command({ buildInfo: 1 }).then(
      (info) => (info.ferretdbVersion === undefined ? 'conditional' : 'by-id'),
      (error: unknown) => {
        this.#style = undefined
        throw error
      },
    )
    return this.#style
  }
}

/** The `_id` of the generation of `path`. */
function fenceId(path: ScopePath): string {
  return `/${encodeScopePath(path)}`
}

function sameGens(a: readonly (string | null)[], b: readonly (string | null)[]): boolean {
  return a.length === b.length && a.every((gen, index) => gen === b[index])
}
