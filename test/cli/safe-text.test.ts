// The CLI's terminal-safe text (src/cli/safe-text.ts), for any string: printed paths and keys parse
// back to the same strings, JSON output parses to the same value, and none of them holds a character a
// terminal acts on.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatPath } from '../../src/cli/output.js'
import {
  displayKey,
  escapePathComponent,
  parseDisplayedKey,
  redact,
  safeJson,
  safeMessage,
  secretsOf,
  unescapePathComponent,
} from '../../src/cli/safe-text.js'
import { resolveScopeArgs, scopeConfigFrom } from '../../src/cli/scope-arg.js'

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u
/** Any UTF-16 string, lone surrogates and controls included, with hostile characters made likely. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({
    unit: fc.constantFrom(
      '\x1b',
      '\r',
      '\n',
      '\x00',
      '\x9b',
      '\u202e',
      '\ud800',
      '%',
      '/',
      '=',
      ' ',
      '"',
      '\\',
      'a',
      'é',
      '😀',
    ),
  }),
)

describe('terminal-safe text', () => {
  it('a printed path component is safe, has no white space, and unescapes to the same string', () => {
    fc.assert(
      fc.property(text, (s) => {
        const printed = escapePathComponent(s)
        expect(printed).not.toMatch(UNSAFE)
        expect(printed).not.toMatch(/[\s/=]/)
        expect(unescapePathComponent(printed)).toBe(s)
      }),
    )
  })

  it('a printed scope path resolves back to the same path (empty ids included)', () => {
    const config = scopeConfigFrom(undefined)
    const id = fc.oneof(
      text.filter((s) => !/\p{Cs}/u.test(s)),
      fc.constant(''),
    )
    fc.assert(
      fc.property(fc.array(id, { minLength: 1, maxLength: 3 }), (ids) => {
        const levels = ['organization', 'user', 'session']
        const path = ids.map((value, i) => ({ level: levels[i]!, id: value }))
        expect(resolveScopeArgs(config, [formatPath(path)], undefined)).toEqual(path)
      }),
    )
  })

  it('a displayed key is safe and parses back to the same key', () => {
    fc.assert(
      fc.property(text, (key) => {
        const shown = displayKey(key)
        expect(shown).not.toMatch(UNSAFE)
        expect(parseDisplayedKey(shown)).toBe(key)
      }),
    )
    expect(displayKey('plain')).toBe('plain')
    expect(displayKey('')).toBe('""')
    expect(displayKey('a\x1b[2Jb')).toBe('"a\\x1B[2Jb"')
    expect(parseDisplayedKey('"a\\q"')).toBeUndefined()
  })

  it('JSON output is safe and parses to exactly the value', () => {
    fc.assert(
      fc.property(fc.dictionary(text, fc.oneof(text, fc.array(text))), (value) => {
        const json = safeJson(value)
        expect(json).not.toMatch(UNSAFE)
        expect(JSON.parse(json)).toEqual(value)
      }),
    )
  })

  it('messages are safe; secrets are redacted whole', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(safeMessage(s)).not.toMatch(UNSAFE)
      }),
    )
    const url = 'redis://user:p%40ss@host:bad'
    expect(redact(`failed on ${url} (p@ss)`, secretsOf(url))).toBe(
      'failed on redis://user:***@host:bad (***)',
    )
    expect(secretsOf('redis://user@host:6379')).toEqual([])
  })
})
