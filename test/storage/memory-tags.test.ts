/**
 * Tags in memory (src/storage/memory/tag-index.ts): a model-based property (fast-check) over random
 * writes with tags, deletes, scope evictions, bound evictions and invalidations, checked against a
 * plain model after every step; the tag index never keeps a tag without entries (memory freed at once).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EntryRef, ScopePath } from '../../src/index.js'
import { MISS } from '../../src/storage/contract.js'
import { MemoryStore } from '../../src/storage/memory/store.js'
import { encodeEntryRef, encodeScopePath } from '../../src/storage/key-encoding.js'

const scopes: ScopePath[] = [
  [],
  [{ level: 'organization', id: 'o1' }],
  [{ level: 'organization', id: 'o2' }],
  [
    { level: 'organization', id: 'o1' },
    { level: 'user', id: 'u' },
  ],
]
const tagPool = ['a', 'b', 'a|b', 'é', '']
const scope = fc.nat(scopes.length - 1)
const key = fc.constantFrom('k1', 'k2', 'k3')
const tagList = fc.uniqueArray(fc.constantFrom(...tagPool.filter((t) => t !== '')), { maxLength: 3 })
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), scope, key, tags: tagList }),
  fc.record({ kind: fc.constant('delete' as const), scope, key }),
  fc.record({ kind: fc.constant('evictScope' as const), scope }),
  fc.record({ kind: fc.constant('invalidate' as const), scope, tags: tagList }),
)

describe('in-memory tags', () => {
  it('property: invalidateTags removes exactly the model’s entries; no tag outlives its entries', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.boolean(), (ops, bounded) => {
        const store = new MemoryStore()
        const evicted: string[] = []
        store.configure({
          bounds: bounded ? [{ order: 'lru', maxItems: 4, reason: 'lru' }] : [],
          onEvicted: (_, __, ref) => evicted.push(encodeEntryRef(ref!)),
          wantsEvictedRefs: true,
        })
        const model = new Map<string, { ref: EntryRef; tags: readonly string[] }>()
        for (const o of ops) {
          const path = scopes[o.scope]!
          if (o.kind === 'set') {
            const ref = { scope: path, key: o.key }
            store.set(ref, o.tags, undefined, o.tags.length === 0 ? undefined : { tags: o.tags })
            model.set(encodeEntryRef(ref), { ref, tags: o.tags })
            for (const gone of evicted.splice(0)) model.delete(gone)
          } else if (o.kind === 'delete') {
            const id = encodeEntryRef({ scope: path, key: o.key })
            expect(store.delete({ scope: path, key: o.key })).toBe(model.delete(id))
          } else if (o.kind === 'evictScope') {
            const prefix = encodeScopePath(path)
            const doomed = [...model.keys()].filter((id) => id.startsWith(prefix))
            expect(store.evictScope(path)).toBe(doomed.length)
            for (const id of doomed) model.delete(id)
          } else {
            const prefix = encodeScopePath(path)
            const doomed = [...model.entries()].filter(
              ([id, e]) => id.startsWith(prefix) && e.tags.some((t) => o.tags.includes(t)),
            )
            expect(store.invalidateTags(o.tags, path)).toBe(doomed.length)
            for (const [id] of doomed) model.delete(id)
          }
          expect(store.size()).toBe(model.size)
          for (const { ref, tags } of model.values()) expect(store.get(ref)).toEqual(tags)
          const used = new Set([...model.values()].flatMap((e) => e.tags))
          expect(store.tagCount).toBe(used.size)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('an expired tagged entry is reclaimed with its tags, reported as expired, not counted', async () => {
    const store = new MemoryStore()
    const expired: number[] = []
    store.configure({ bounds: [], onEvicted: (_, count) => expired.push(count), wantsEvictedRefs: false })
    const ref = { scope: scopes[1]!, key: 'k' }
    store.set(ref, 1, 20, { tags: ['a'] })
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(store.invalidateTags(['a'], [])).toBe(0)
    expect(expired).toEqual([1])
    expect(store.get(ref)).toBe(MISS)
    expect(store.tagCount).toBe(0)
  })
})
