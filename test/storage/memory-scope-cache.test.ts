// The in-memory store answers a read of the scope it found last without walking its scope tree again,
// until any scope node leaves the tree (scope eviction, the last entry of a scope removed, clear, tag
// invalidation emptying a scope). A detached node still holds the entries it had: if that answer were
// kept too long, a read would return evicted values. fast-check compares random sequences of writes,
// reads and removals over a few tenants with a plain Map model.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Cache, InMemory } from '../../src/index.js'
import type { ScopeSegment } from '../../src/storage/index.js'

const ORGS = ['o1', 'o2'] as const
const USERS = ['u1', 'u2'] as const
const KEYS = ['k1', 'k2'] as const

type Where = { readonly org: number; readonly user: number | undefined }

type Step =
  | { readonly kind: 'set'; readonly at: Where; readonly key: number; readonly tagged: boolean }
  | { readonly kind: 'get'; readonly at: Where; readonly key: number }
  | { readonly kind: 'evict'; readonly at: Where; readonly key: number }
  | { readonly kind: 'evictScope'; readonly at: Where }
  | { readonly kind: 'clear' }
  | { readonly kind: 'tags'; readonly org: number | undefined }

const where: fc.Arbitrary<Where> = fc.record({
  org: fc.nat(ORGS.length - 1),
  user: fc.option(fc.nat(USERS.length - 1), { nil: undefined }),
})
const key = fc.nat(KEYS.length - 1)
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('set' as const), at: where, key, tagged: fc.boolean() }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('get' as const), at: where, key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evict' as const), at: where, key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evictScope' as const), at: where }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tags' as const),
      org: fc.option(fc.nat(ORGS.length - 1), { nil: undefined }),
    }),
  },
)

const options = (at: Where) =>
  at.user === undefined
    ? ({ scope: 'organization', orgId: ORGS[at.org]! } as const)
    : ({ scope: 'user', orgId: ORGS[at.org]!, userId: `${ORGS[at.org]}-${USERS[at.user]}` } as const)
const scopeName = (at: Where) => (at.user === undefined ? `${at.org}` : `${at.org}/${at.user}`)

describe('in-memory reads of the last scope found', () => {
  it('follow a path array its caller changes between calls (in place or by segment)', () => {
    const storage = new InMemory()
    storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    const sync = storage.sync
    const path: ScopeSegment[] = [{ level: 'organization', id: 'o1' }]
    sync.set({ scope: [{ level: 'organization', id: 'o1' }], key: 'k' }, 1, undefined)
    sync.set({ scope: [{ level: 'organization', id: 'o2' }], key: 'k' }, 2, undefined)
    expect(sync.get({ scope: path, key: 'k' })).toBe(1)
    path[0] = { level: 'organization', id: 'o2' }
    expect(sync.get({ scope: path, key: 'k' })).toBe(2)
    ;(path[0] as { id: string }).id = 'o1'
    expect(sync.get({ scope: path, key: 'k' })).toBe(1)
  })

  it('never return what a removal took out of the tree (500 random sequences)', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const cache = new Cache({ storage: new InMemory() })
        /** scope name ('org' or 'org/user') + key -> [value, tagged] */
        const model = new Map<string, readonly [number, boolean]>()
        let written = 0
        for (const s of steps) {
          switch (s.kind) {
            case 'set': {
              const value = ++written
              cache.setSync(KEYS[s.key]!, value, { ...options(s.at), ...(s.tagged ? { tags: ['t'] } : {}) })
              model.set(`${scopeName(s.at)} ${s.key}`, [value, s.tagged])
              break
            }
            case 'get':
              expect(cache.getSync(KEYS[s.key]!, options(s.at))).toBe(
                model.get(`${scopeName(s.at)} ${s.key}`)?.[0],
              )
              break
            case 'evict':
              cache.evictSync(KEYS[s.key]!, options(s.at))
              model.delete(`${scopeName(s.at)} ${s.key}`)
              break
            case 'evictScope': {
              const at = options(s.at)
              if (at.scope === 'user') cache.evictByScopeSync('user', { orgId: at.orgId, userId: at.userId })
              else cache.evictByScopeSync('organization', { orgId: at.orgId })
              const prefix = scopeName(s.at)
              for (const name of [...model.keys()]) {
                const scope = name.split(' ')[0]!
                if (scope === prefix || scope.startsWith(`${prefix}/`)) model.delete(name)
              }
              break
            }
            case 'clear':
              cache.clearSync()
              model.clear()
              break
            case 'tags':
              if (s.org === undefined) cache.invalidateTagsSync(['t'])
              else cache.invalidateTagsSync(['t'], { scope: 'organization', orgId: ORGS[s.org]! })
              for (const [name, [, tagged]] of [...model]) {
                if (tagged && (s.org === undefined || name.split(/[ /]/)[0] === `${s.org}`))
                  model.delete(name)
              }
              break
          }
        }
      }),
      { numRuns: 500 },
    )
  })
})
