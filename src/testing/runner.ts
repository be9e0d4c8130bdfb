/**
 * The few test-framework functions the shipped suites need, so that they run under any framework:
 * vitest, jest and `node:test` all export functions of these shapes (pass them in, as
 * `@keyv/test-suite` takes its `test`).
 *
 * ```ts
 * import { describe, it, afterEach } from 'vitest' // or from 'node:test', or jest's globals
 * describeStorageConformance('my storage', { create: () => new MyStorage(), runner: { describe, it, afterEach } })
 * ```
 */
export interface TestRunner {
  /** Groups cases; called synchronously while the test file loads. */
  readonly describe: (name: string, body: () => void) => unknown
  /** One case; the body rejects (or throws) to fail. */
  readonly it: (name: string, body: () => Promise<void>) => unknown
  /** Runs after every case of the enclosing group (used to close what a case opened). */
  readonly afterEach: (body: () => Promise<void>) => unknown
}

/**
 * A deterministic pseudo-random source (mulberry32), so that a failing property case can be replayed
 * from its seed without a property-testing library at run time.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Characters that structure keys somewhere in some provider (separators, escapes, hash-tag braces,
 * operators), plus quotes, NUL, control characters and non-ASCII text.
 */
export const NASTY_CHARACTERS: readonly string[] = [
  '%',
  '/',
  '=',
  '|',
  '{',
  '}',
  ':',
  '#',
  'm',
  'a',
  '\0',
  '\n',
  '\u001b',
  '"',
  "'",
  '\\',
  '.',
  '$',
  '*',
  'é',
  '😀',
  ' ',
]

/** A string of up to `maxLength` characters drawn from {@link NASTY_CHARACTERS}. */
export function nastyString(random: () => number, maxLength = 6): string {
  const length = Math.floor(random() * (maxLength + 1))
  let text = ''
  for (let i = 0; i < length; i++) text += NASTY_CHARACTERS[Math.floor(random() * NASTY_CHARACTERS.length)]
  return text
}
