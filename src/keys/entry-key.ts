/**
 * Keys inside a scope. Direct keys (`cache.get('settings')`) and memoized calls share one key space per
 * scope, so the mapping below keeps them apart injectively:
 * - a direct key that does not start with `#` is used as it is (the fast path);
 * - a direct key that starts with `#` gets one more `#` in front;
 * - a memoized call is `#m:` + escaped namespace + `:` + canonical arguments.
 * No direct key can therefore produce a `#m:` key, and different direct keys stay different.
 */

const HASH = 0x23 // '#'

/** The storage key of a direct key. */
export function directKey(key: string): string {
  return key.charCodeAt(0) === HASH ? `#${key}` : key
}

/** The storage-key prefix of a memoized namespace; `:` and `%` in the namespace are escaped. */
export function memoKeyPrefix(namespace: string): string {
  return `#m:${namespace.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))}:`
}

/** Whether a storage key belongs to a memoized function (for stats by namespace). */
export function isMemoKey(key: string): boolean {
  return key.startsWith('#m:')
}

/**
 * The escaped namespace part of a memoized entry's storage key (`#m:<escaped>:...`), or `undefined` for a
 * direct key. Cheap: one slice, no unescaping; equal namespaces give equal strings.
 */
export function escapedMemoNamespace(key: string): string | undefined {
  if (!isMemoKey(key)) return undefined
  const end = key.indexOf(':', 3)
  return end < 0 ? undefined : key.slice(3, end)
}

/** Reverses the escaping of {@link memoKeyPrefix} on a namespace. */
export function unescapeMemoNamespace(escaped: string): string {
  return escaped.includes('%') ? escaped.replace(/%3A|%25/g, (c) => (c === '%3A' ? ':' : '%')) : escaped
}

/** What a storage key is to the user: a direct key as they wrote it, or a memoized function's namespace. */
export type EntryKeyInfo =
  | { readonly key: string; readonly namespace: undefined }
  | { readonly key: undefined; readonly namespace: string }

/** Inverse of {@link directKey} and of {@link memoKeyPrefix}'s namespace part, for events and stats. */
export function parseEntryKey(key: string): EntryKeyInfo {
  const escaped = escapedMemoNamespace(key)
  if (escaped !== undefined) return { key: undefined, namespace: unescapeMemoNamespace(escaped) }
  return { key: key.charCodeAt(0) === HASH ? key.slice(1) : key, namespace: undefined }
}
