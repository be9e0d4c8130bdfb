import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath } from '../../src/storage/index.js'
import { encodeEntryRef, encodeScopePath, escapeComponent } from '../../src/storage/index.js'
import { decodeEntryRef, decodeScopePath, unescapeComponent } from '../../src/storage/key-encoding.js'
import { nastyString } from './conformance.js'

const segment = fc.record({
  level: fc.constantFrom('organization', 'user', 'a:b', 'a', 'x=y'),
  id: nastyString,
})
const path = fc.array(segment, { maxLength: 3 })
const ref = fc.record({ scope: path, key: nastyString })

describe('key encoding for flat-key backends', () => {
  it('escapes exactly the structural characters', () => {
    expect(escapeComponent('plain id')).toBe('plain id')
    expect(escapeComponent('%/=|{}:')).toBe('%25%2F%3D%7C%7B%7D%3A')
    expect(encodeScopePath([])).toBe('')
    expect(encodeEntryRef({ scope: [{ level: 'user', id: 'a:b' }], key: 'k|1' })).toBe('user=a%3Ab/|k|1')
  })

  it('property: distinct refs never encode to the same string', () => {
    fc.assert(
      fc.property(ref, ref, (a: EntryRef, b: EntryRef) => {
        const equal = JSON.stringify(a) === JSON.stringify(b)
        expect(encodeEntryRef(a) === encodeEntryRef(b)).toBe(equal)
      }),
      { numRuns: 2000 },
    )
  })

  it('property: a scope is a string prefix of an entry exactly when it is an ancestor-or-self', () => {
    fc.assert(
      fc.property(path, ref, (scope: ScopePath, entry: EntryRef) => {
        const isAncestor =
          scope.length <= entry.scope.length &&
          scope.every((s, i) => s.level === entry.scope[i]!.level && s.id === entry.scope[i]!.id)
        expect(encodeEntryRef(entry).startsWith(encodeScopePath(scope))).toBe(isAncestor)
      }),
      { numRuns: 2000 },
    )
    // the interesting near-misses, explicitly
    const user = (org: string, id: string): ScopePath => [
      { level: 'organization', id: org },
      { level: 'user', id },
    ]
    expect(
      encodeEntryRef({ scope: user('a:b', 'c'), key: 'k' }).startsWith(
        encodeScopePath([{ level: 'organization', id: 'a' }]),
      ),
    ).toBe(false)
    expect(
      encodeEntryRef({ scope: user('a10', 'c'), key: 'k' }).startsWith(
        encodeScopePath([{ level: 'organization', id: 'a1' }]),
      ),
    ).toBe(false)
  })
})

/** Hostile ids: every structural character, control characters, astral code points, long runs. */
const hostile = fc.oneof(
  nastyString,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('%', '%25', '%2F', '%zz', '%%2', '/=|', '\u0000\u001f\u007f', '|'.repeat(50), 'é😀'),
)
const hostilePath = fc.array(fc.record({ level: hostile.filter((s) => s !== ''), id: hostile }), {
  maxLength: 4,
})

/** Every .ts file under a directory. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

describe('the one decode of the key encoding (the tenant-isolation invariant)', () => {
  it('property: decodeEntryRef inverts encodeEntryRef, decodeScopePath inverts encodeScopePath', () => {
    fc.assert(
      fc.property(hostilePath, hostile, (scope: ScopePath, key: string) => {
        expect(decodeEntryRef(encodeEntryRef({ scope, key }))).toEqual({ scope, key })
        expect(decodeScopePath(encodeScopePath(scope))).toEqual(scope)
      }),
      { numRuns: 2000 },
    )
  })

  it('property: unescapeComponent inverts escapeComponent', () => {
    fc.assert(
      fc.property(hostile, (text: string) => {
        expect(unescapeComponent(escapeComponent(text))).toBe(text)
      }),
      { numRuns: 2000 },
    )
  })

  it('decodes huge refs and keys that contain the separators', () => {
    const scope = [
      { level: 'organization', id: 'o/'.repeat(10_000) },
      { level: 'user', id: '|=%'.repeat(10_000) },
    ]
    const key = '|a=b/'.repeat(20_000)
    expect(decodeEntryRef(encodeEntryRef({ scope, key }))).toEqual({ scope, key })
    expect(decodeScopePath(`${encodeScopePath(scope)}`)).toEqual(scope)
    expect(decodeScopePath('a=1')).toEqual([{ level: 'a', id: '1' }])
  })

  it('is the only decode: no other storage file reverses the percent-escaping', () => {
    // A second copy of the inverse (Redis members and MongoDB _ids had one each) could drift from the
    // encoding and report an eviction to the wrong tenant; providers import decodeEntryRef instead.
    const decoders = sources('src/storage').filter((file) =>
      /fromCharCode\(\s*parseInt|%\(\[0-9A-F\]\{2\}\)/.test(readFileSync(file, 'utf8')),
    )
    expect(decoders).toEqual(['src/storage/key-encoding.ts'])
  })
})
