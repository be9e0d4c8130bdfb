import type { Filter } from 'mongodb'
import type { ScopePath, WriteOptions } from '../contract.js'
import { checkTags, MAX_TAGS_PER_ENTRY } from '../tags.js'
import type { EntryDocument } from './document.js'
import { subtreeFilter } from './document.js'

/**
 * Entry tags on MongoDB: the document's `tags` array (absent on untagged entries), with a multikey
 * index `cacheado_tags`. Eager by construction: the tags live in the entry's own document, so a read
 * is the same point lookup, a write replaces them (`$set`, or `$unset` for none) atomically with the
 * value, and the entry's removal, by whatever means (delete, scope eviction, bounds, expiry, the TTL
 * index), takes its tags with it: no index garbage exists. An invalidation is one `deleteMany` on the
 * scope's `_id` range and `{ tags: { $in } }`. Tags are only ever values inside `$in` (strings the
 * cache checked), never field names or operators.
 */

/** The checked tags of a write, `undefined` for none. */
export function tagsOf(options: WriteOptions | undefined): string[] | undefined {
  const tags = options?.tags
  if (tags === undefined || tags.length === 0) return undefined
  return [...checkTags(tags, MAX_TAGS_PER_ENTRY, 'MongoDBStorage.set(ref, value, ttlMs, { tags })')]
}

/**
 * The `$set` and `$unset` parts of a write: `tags` set when the write has some, unset (with the
 * fields already in `unset`) when it has none, so a rewrite without tags leaves the old ones.
 */
export function tagFields<S extends object, U extends Record<string, ''>>(
  set: S,
  tags: string[] | undefined,
  unset: U,
): [S & { tags?: string[] }, U & { tags?: '' }] {
  return tags === undefined ? [set, { ...unset, tags: '' }] : [{ ...set, tags }, unset]
}

/** Filter of the documents at or under `path` (`[]`: all) carrying any of `tags`. */
export function tagsFilter(tags: readonly string[], path: ScopePath): Filter<EntryDocument> {
  const carrying: Filter<EntryDocument> = { tags: { $in: [...tags] } }
  return path.length === 0 ? carrying : { ...subtreeFilter(path), ...carrying }
}
