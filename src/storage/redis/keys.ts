import { createHash } from 'node:crypto'
import { ConfigurationError, InvalidArgumentError } from '../../errors.js'
import type { BoundPolicy, EntryRef, ScopePath } from '../contract.js'
import { encodeEntryRef, encodeScopePath, escapeComponent } from '../key-encoding.js'

/**
 * Redis key names of one storage prefix; the layout is described in `prelude.ts`. A tag is the
 * encoded top-level segment of a scope path (`level=id/`), or {@link GLOBAL_TAG} for the global scope;
 * everything of one tag lives in one hash slot.
 */

/** Tag of entries of the global scope; cannot collide with a segment, which always contains `=`. */
export const GLOBAL_TAG = '@'

/** One lone UTF-16 surrogate: it would be replaced by U+FFFD when sent as UTF-8, merging keys. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Checks a storage prefix: non-empty, and without braces, which would change the hash slot. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new ConfigurationError(
      `RedisStorage: prefix must be a non-empty string without '{' or '}', got ${JSON.stringify(prefix)}`,
    )
  }
  return prefix
}

/**
 * The id of a bound in key names (`b<id>`): a short hash of what the bound is (order, maxItems, per,
 * reason), not of its place in a rule list, so that processes configured with the same bound share its
 * state whatever the order of their rules (a rolling deploy), and different bounds never share one.
 */
export function boundId(bound: BoundPolicy): string {
  const bytes = bound.maxBytes === undefined ? '' : `|bytes=${bound.maxBytes}`
  const what = `${bound.order}|${bound.maxItems}|${bound.per === undefined ? '' : `=${bound.per}`}|${bound.reason}${bytes}`
  return createHash('sha1').update(what).digest('hex').slice(0, 12)
}

/** ARGV header of every script: prefix, inline-wide flag, then the bounds (see `prelude.ts`). */
export function scriptHeader(prefix: string, isCluster: boolean, bounds: readonly BoundPolicy[]): string[] {
  const header = [prefix, isCluster ? '0' : '1', String(bounds.length)]
  for (const b of bounds) {
    header.push(
      b.order === 'lru' ? 'l' : 'i',
      Number.isFinite(b.maxItems) ? String(b.maxItems) : '0',
      String(b.maxBytes ?? 0),
      b.per === undefined ? '' : escapeComponent(b.per),
      boundId(b),
    )
  }
  return header
}

/**
 * The longest TTL stored, in ms: 100 years, the cache's `MAX_TTL_SECONDS` (expiry times then stay exact
 * integers in the scripts' Lua numbers, far below 2^53).
 */
export const MAX_TTL_MS = 3_155_760_000_000

/**
 * The TTL argument of the write scripts. Refuses, before anything is sent, a TTL that Redis cannot
 * store exactly: not a positive number, or above 100 years ({@link MAX_TTL_MS}).
 */
export function ttlArg(ttlMs: number | undefined): string {
  if (ttlMs === undefined) return ''
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || !(Math.ceil(ttlMs) <= MAX_TTL_MS)) {
    throw new InvalidArgumentError(
      `RedisStorage: a TTL must be a positive number of milliseconds up to ${MAX_TTL_MS} (100 years), got ${String(ttlMs)}; leave it out for no expiry`,
    )
  }
  return String(ttlMs)
}

/** Key names under one prefix. */
export class RedisKeys {
  /** The SET of tags that hold entries (its own slot). */
  readonly registry: string
  /**
   * A copy of the bounds the caches of this prefix enforce (JSON of `BoundPolicy[]`), written when a
   * cache with bounds attaches, so that tools without the application's rules (the operator CLI) can
   * evict with them and leave no members behind in the bound sets.
   */
  readonly bounds: string
  /** Key base of the cache-wide bounds, `P:{@@}:`. */
  readonly wide: string

  constructor(readonly prefix: string) {
    this.registry = `${prefix}:tags`
    this.bounds = `${prefix}:bounds`
    this.wide = `${prefix}:{@@}:`
  }

  /**
   * The member string of an entry (its encoded ref). Refuses refs with lone surrogates, which Redis
   * (UTF-8) could not keep apart.
   */
  member(ref: EntryRef): string {
    const member = encodeEntryRef(ref)
    if (LONE_SURROGATE.test(member)) {
      throw new InvalidArgumentError(
        'keys and scope ids stored in Redis must be well-formed Unicode (a lone surrogate was found)',
      )
    }
    return member
  }

  /** Tag of a member (its text up to the first `/`, or the global tag). */
  tagOfMember(member: string): string {
    const bar = member.indexOf('|')
    const slash = member.indexOf('/')
    return slash === -1 || slash > bar ? GLOBAL_TAG : member.slice(0, slash + 1)
  }

  /** Key base of a tag, `P:{T}:`. */
  base(tag: string): string {
    return `${this.prefix}:{${tag}}:`
  }

  /** Data key of a member. */
  data(member: string): string {
    return `${this.base(this.tagOfMember(member))}d:${member}`
  }

  /**
   * Lock key of a member, `P:{T}:l:<member>`: in the entry's hash slot (so a lock lives on the tenant's
   * Cluster node), apart from the data and index keys (scripts never touch it).
   */
  lock(member: string): string {
    return `${this.base(this.tagOfMember(member))}l:${member}`
  }

  /**
   * The keys a write of `member` touches, in the order the write script expects them: the data key,
   * the tag's root index, then the index of every deeper scope node, outermost first. All share the
   * tag's hash slot.
   */
  writeKeys(member: string): string[] {
    const bar = member.indexOf('|')
    const slash = member.indexOf('/')
    if (slash === -1 || slash > bar) {
      const base = this.base(GLOBAL_TAG)
      return [`${base}d:${member}`, `${base}i:`]
    }
    const base = this.base(member.slice(0, slash + 1))
    const keys = [`${base}d:${member}`]
    // Segments are escaped, so every '/' before the '|' ends one scope node.
    for (let end = slash; end !== -1 && end < bar; end = member.indexOf('/', end + 1)) {
      keys.push(`${base}i:${member.slice(0, end + 1)}`)
    }
    return keys
  }

  /** Index key of a non-empty scope path. */
  index(path: ScopePath): string {
    const encoded = encodeScopePath(path)
    return `${this.base(encoded.slice(0, encoded.indexOf('/') + 1))}i:${encoded}`
  }

  /** The index holding every entry of a tag. */
  rootIndex(tag: string): string {
    return `${this.base(tag)}i:${tag === GLOBAL_TAG ? '' : tag}`
  }
}
