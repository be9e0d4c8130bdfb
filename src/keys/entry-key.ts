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
