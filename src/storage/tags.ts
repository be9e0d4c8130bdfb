import { InvalidArgumentError } from '../errors.js'

/**
 * The checks every tag goes through before it reaches a storage (`cache.set(..., { tags })`,
 * `cache.invalidateTags`, the memoizer's `tags`, the CLI's `invalidate-tag`), so that providers only
 * ever see tags they can store as they are: a tag is compared as an exact string everywhere (Redis key
 * names, MongoDB array values, in-process maps), never parsed, so no tag can collide with another one
 * or with a key whatever separators it contains.
 */

/** Most tags one entry may carry. */
export const MAX_TAGS_PER_ENTRY = 64
/** Most tags one `invalidateTags` call may name. */
export const MAX_TAGS_PER_INVALIDATION = 1000
/** Longest tag, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 512

/**
 * C0 and C1 control characters (a log line or a terminal must never be driven by a tag), and lone UTF-16
 * surrogates (UTF-8 backends would store them as U+FFFD, merging distinct tags).
 */
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Checks a list of tags and returns it without duplicates (a new frozen array; the caller's array is
 * never kept). `max`: how many tags are allowed; `where`: the call to name in the error, e.g.
 * `'cache.set(key, value, { tags })'`. Throws an `InvalidArgumentError` saying what was wrong.
 */
export function checkTags(tags: unknown, max: number, where: string): readonly string[] {
  if (!Array.isArray(tags)) {
    throw new InvalidArgumentError(
      `${where}: tags must be an array of strings such as ['plan:pro'], got ${tags === null ? 'null' : typeof tags}`,
    )
  }
  if (tags.length > max) {
    throw new InvalidArgumentError(
      `${where}: at most ${max} tags are allowed, got ${tags.length}; use fewer, broader tags`,
    )
  }
  const seen = new Set<string>()
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i]
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new InvalidArgumentError(
        `${where}: tag ${i} must be a non-empty string, got ${typeof tag === 'string' ? "''" : tag === null ? 'null' : typeof tag}`,
      )
    }
    if (tag.length > MAX_TAG_LENGTH) {
      throw new InvalidArgumentError(
        `${where}: tag ${i} has ${tag.length} characters, more than ${MAX_TAG_LENGTH}; use a shorter tag (e.g. a hash of it)`,
      )
    }
    if (FORBIDDEN.test(tag)) {
      throw new InvalidArgumentError(
        `${where}: tag ${i} contains a control character or a lone UTF-16 surrogate; tags must be printable, well-formed Unicode`,
      )
    }
    seen.add(tag)
  }
  return Object.freeze([...seen])
}
