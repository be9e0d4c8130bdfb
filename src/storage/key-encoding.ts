import type { EntryRef, ScopePath } from './contract.js'

/**
 * Injective string encoding of scope paths and entry refs, for providers that store flat string keys
 * (Redis, MongoDB) and for in-process maps keyed by entry.
 *
 * Each segment is `level=id/` with `%`, `/`, `=`, `|`, `{`, `}` and `:` percent-escaped inside level and
 * id, so a segment boundary can never be forged by an id. An entry is its path followed by `|` and the
 * raw key. Two properties follow and are relied upon:
 * - different refs give different strings (the key is last, after the first unescaped `|`);
 * - `encodeScopePath(a)` is a prefix of `encodeEntryRef(r)` exactly when `a` is an ancestor-or-self of
 *   `r.scope`, so a subtree is a string prefix.
 */

const SPECIAL = /[%/=|{}:]/g
const HAS_SPECIAL = /[%/=|{}:]/

/** Escapes the characters that structure an encoded path. */
export function escapeComponent(text: string): string {
  return HAS_SPECIAL.test(text) ? text.replace(SPECIAL, escapeChar) : text
}

function escapeChar(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
}

/** Encoding of one segment, `level=id/`. */
export function encodeSegment(level: string, id: string): string {
  return `${escapeComponent(level)}=${escapeComponent(id)}/`
}

/** Encoding of a scope path; `''` for the global root. */
export function encodeScopePath(path: ScopePath): string {
  let out = ''
  for (const segment of path) out += encodeSegment(segment.level, segment.id)
  return out
}

/** Encoding of an entry ref: its path, `|`, then the key. */
export function encodeEntryRef(ref: EntryRef): string {
  return `${encodeScopePath(ref.scope)}|${ref.key}`
}

const ESCAPED = /%([0-9A-F]{2})/g

/** Inverse of {@link escapeComponent}. */
export function unescapeComponent(text: string): string {
  return text.includes('%')
    ? text.replace(ESCAPED, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    : text
}

/**
 * Inverse of {@link encodeScopePath} (a trailing `/` is optional). Relies on the escaping: inside an
 * encoded path, `/` and `=` only ever appear unescaped as separators.
 */
export function decodeScopePath(encoded: string): ScopePath {
  const path: { level: string; id: string }[] = []
  for (const segment of encoded.split('/')) {
    if (segment === '') continue
    const eq = segment.indexOf('=')
    path.push({
      level: unescapeComponent(segment.slice(0, eq)),
      id: unescapeComponent(segment.slice(eq + 1)),
    })
  }
  return path
}

/** Inverse of {@link encodeEntryRef}. */
export function decodeEntryRef(encoded: string): EntryRef {
  const bar = encoded.indexOf('|')
  return { scope: decodeScopePath(encoded.slice(0, bar)), key: encoded.slice(bar + 1) }
}
