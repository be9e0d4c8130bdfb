import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath } from '../../src/index.js'
import { encodeEntryRef, encodeScopePath, escapeComponent } from '../../src/index.js'
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
