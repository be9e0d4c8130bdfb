import assert from 'node:assert/strict'
import { InvalidArgumentError } from '../errors.js'
import type { EntryRef, ScopePath, StorageProvider, WriteFence } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { MAX_TAGS_PER_ENTRY, MAX_TAGS_PER_INVALIDATION } from '../storage/tags.js'
import type { CaseContext } from './cache-cases.js'
import { sleep } from './cache-cases.js'
import type { ProviderCaseContext } from './provider-cases.js'
import type { TestRunner } from './runner.js'

/**
 * Conformance cases of tags (`set(..., { tags })`, `invalidateTags`), on the provider and through a
 * `Cache`. A provider without `invalidateTags` skips them (tags are an optional capability).
 */

const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (orgId: string, userId: string): ScopePath => [...org(orgId), { level: 'user', id: userId }]
const ref = (scope: ScopePath, key: string): EntryRef => ({ scope, key: `k:${key}` })
const tagged = (...tags: string[]) => ({ tags })

/**
 * Tags that structure keys or queries somewhere (separators, escapes, hash-tag braces, operators, the
 * label list separator's neighbours), prefixes of each other, and non-ASCII text: each must select
 * exactly its own entries.
 */
export const HOSTILE_TAGS: readonly string[] = [
  'a',
  'a ',
  ' a',
  'a|b',
  'a/b',
  'a=b/',
  '{a}',
  'a}',
  'a:b',
  't:a',
  'g:a',
  '%2F',
  '%',
  '$in',
  '$where',
  '.',
  '*',
  '"\'\\',
  'é',
  'e\u0301',
  '😀',
  'a,b',
  '#m:a',
  'organization=o/',
]

/** Provider-level tag cases. */
export function providerTagCases(runner: TestRunner, ctx: ProviderCaseContext): void {
  const { it } = runner
  const open = async (): Promise<StorageProvider | undefined> => {
    const s = await ctx.open()
    return typeof s.invalidateTags === 'function' ? s : undefined
  }

  it('provider (tags): invalidateTags removes the tagged entries of a scope and its descendants only', async () => {
    const s = await open()
    if (s === undefined) return
    const a = ref(user('o1', 'u1'), 'a')
    const b = ref(user('o1', 'u2'), 'b')
    const c = ref(org('o2'), 'c')
    const d = ref([], 'd')
    const e = ref(org('o1'), 'e')
    await s.set(a, 1, undefined, tagged('t1'))
    await s.set(b, 2, 60_000, tagged('t1', 't2'))
    await s.set(c, 3, undefined, tagged('t1'))
    await s.set(d, 4, undefined, tagged('t1'))
    await s.set(e, 5, undefined)
    assert.equal(await s.invalidateTags!(['nothing'], []), 0)
    assert.equal(await s.invalidateTags!(['t1'], user('o1', 'u1')), 1)
    assert.equal(await s.get(a), MISS)
    assert.equal(await s.get(b), 2)
    assert.equal(await s.invalidateTags!(['t2', 'other'], org('o1')), 1)
    assert.equal(await s.get(b), MISS)
    assert.equal(await s.invalidateTags!(['t1'], org('o3')), 0)
    assert.equal(await s.invalidateTags!(['t1'], []), 2)
    assert.equal(await s.get(c), MISS)
    assert.equal(await s.get(d), MISS)
    assert.equal(await s.get(e), 5)
    assert.equal(await s.size(), 1)
    assert.equal(await s.invalidateTags!(['t1', 't2'], []), 0)
  })

  it('provider (tags): a rewrite replaces the tags; removed entries leave no index behind', async () => {
    const s = await open()
    if (s === undefined) return
    const a = ref(org('o'), 'a')
    await s.set(a, 1, undefined, tagged('x'))
    await s.set(a, 2, undefined, tagged('y'))
    assert.equal(await s.invalidateTags!(['x'], []), 0)
    assert.equal(await s.get(a), 2)
    await s.set(a, 3, undefined)
    assert.equal(await s.invalidateTags!(['y'], []), 0)
    assert.equal(await s.get(a), 3)
    await s.set(a, 4, undefined, tagged('x', 'y'))
    assert.equal(await s.invalidateTags!(['x', 'y'], org('o')), 1)
    // Removed by other means, then written again without tags: the old tags do not find it.
    await s.set(a, 5, undefined, tagged('z'))
    assert.equal(await s.delete(a), true)
    await s.set(a, 6, undefined)
    await s.set(ref(org('o'), 'b'), 7, undefined, tagged('z'))
    assert.equal(await s.evictScope(org('o')), 2)
    await s.set(ref(org('o'), 'b'), 8, undefined)
    assert.equal(await s.invalidateTags!(['z'], []), 0)
    assert.equal(await s.get(ref(org('o'), 'b')), 8)
    // A bulk write replaces the entry, its tags included; so does a bulk removal.
    if (s.setMany !== undefined && s.deleteMany !== undefined) {
      const c = ref(org('o'), 'c')
      await s.set(c, 9, undefined, tagged('w'))
      await s.setMany([{ ref: c, value: 10, ttlMs: undefined }])
      assert.equal(await s.invalidateTags!(['w'], []), 0)
      assert.equal(await s.get(c), 10)
      await s.set(c, 11, undefined, tagged('w'))
      assert.deepEqual(await s.deleteMany([c]), [true])
      await s.set(c, 12, undefined)
      assert.equal(await s.invalidateTags!(['w'], []), 0)
      assert.equal(await s.get(c), 12)
    }
  })

  it('provider (tags): hostile tags select exactly their own entries', async () => {
    const s = await open()
    if (s === undefined) return
    const scope = org('o{x}/|:')
    const entries = HOSTILE_TAGS.map((tag, i) => ({ tag, at: ref(scope, `${i}`) }))
    await Promise.all(entries.map(({ tag, at }, i) => s.set(at, i, undefined, tagged(tag))))
    for (let i = 0; i < entries.length; i++) {
      const { tag, at } = entries[i]!
      assert.equal(await s.invalidateTags!([tag], scope), 1, `tag ${JSON.stringify(tag)}`)
      assert.equal(await s.get(at), MISS)
      for (const later of entries.slice(i + 1)) assert.notEqual(await s.get(later.at), MISS)
    }
    assert.equal(await s.size(), 0)
  })

  it('provider (tags): expired tagged entries are never returned and never counted twice', async () => {
    const s = await open()
    if (s === undefined) return
    await s.set(ref(org('o'), 'short'), 1, 40, tagged('x'))
    await s.set(ref(org('o'), 'long'), 2, 60_000, tagged('x'))
    await sleep(80)
    const removed = await s.invalidateTags!(['x'], [])
    assert.ok(removed === 1 || removed === 2, `removed ${removed}`)
    assert.equal(await s.get(ref(org('o'), 'short')), MISS)
    assert.equal(await s.get(ref(org('o'), 'long')), MISS)
    assert.equal(await s.invalidateTags!(['x'], []), 0)
  })

  it('provider (tags + fence): a fenced write taken before an invalidation of its scope is refused', async () => {
    const s = await open()
    if (s === undefined || s.fence === undefined || s.setFenced === undefined) return
    for (const path of [user('o', 'u'), org('o'), []]) {
      const a = ref(user('o', 'u'), 'a')
      const fence: WriteFence = await s.fence(a)
      assert.equal(await s.invalidateTags!(['x'], path), 0)
      assert.equal(await s.setFenced(a, 'stale', undefined, fence, undefined, tagged('x')), false)
      assert.equal(await s.get(a), MISS)
    }
    // Another tenant's invalidation does not refuse it; the stored entry is tagged.
    const b = ref(user('o', 'u'), 'b')
    const fenceOfB: WriteFence = await s.fence(b)
    await s.invalidateTags!(['x'], org('other'))
    assert.equal(await s.setFenced(b, 'fresh', undefined, fenceOfB, undefined, tagged('x')), true)
    assert.equal(await s.invalidateTags!(['x'], []), 1)
    assert.equal(await s.get(b), MISS)
  })
}

/** Tag cases through a `Cache`. */
export function cacheTagCases(runner: TestRunner, ctx: CaseContext): void {
  const { it } = runner
  const open = async () => {
    const cache = await ctx.makeCache()
    return typeof cache.storage.invalidateTags === 'function' ? cache : undefined
  }

  it('cache (tags): set with tags, invalidateTags in a scope, counted as tag evictions', async () => {
    const cache = await open()
    if (cache === undefined) return
    const o1 = { scope: 'organization', orgId: 'o1' } as const
    const u1 = { scope: 'user', orgId: 'o1', userId: 'u1' } as const
    const o2 = { scope: 'organization', orgId: 'o2' } as const
    await cache.set('plan', 'pro', { ...o1, tags: ['plan:pro'] })
    await cache.set('cart', [1], { ...u1, tags: ['plan:pro', 'cart'], ttlSeconds: 60 })
    await cache.set('plan', 'pro', { ...o2, tags: ['plan:pro'] })
    await cache.set('plain', 1, o1)
    assert.equal(await cache.invalidateTags(['plan:pro'], o1), 2)
    assert.equal(await cache.get('plan', o1), undefined)
    assert.equal(await cache.get('cart', u1), undefined)
    assert.equal(await cache.get('plan', o2), 'pro')
    assert.equal(await cache.get('plain', o1), 1)
    assert.equal(await cache.invalidateTags(['plan:pro']), 1)
    const stats = await cache.stats()
    assert.equal(stats.evictionsByReason.tag, 3)
    assert.equal(stats.totalKeys, 1)
  })

  it('cache (tags): bad tags are refused before anything is written', async () => {
    const cache = await open()
    if (cache === undefined) return
    const bad: unknown[] = [
      [''],
      ['a\u0000'],
      ['a\nb'],
      ['\u001b[31m'],
      ['\uD800'],
      [1],
      'plan:pro',
      null,
      ['x'.repeat(513)],
      Array.from({ length: MAX_TAGS_PER_ENTRY + 1 }, (_, i) => `t${i}`),
    ]
    for (const tags of bad) {
      await assert.rejects(
        cache.set('k', 1, { tags: tags as string[] }),
        InvalidArgumentError,
        `tags ${JSON.stringify(tags)}`,
      )
    }
    assert.equal(await cache.get('k'), undefined)
    assert.equal((await cache.stats()).sets, 0)
    const many = Array.from({ length: MAX_TAGS_PER_INVALIDATION + 1 }, (_, i) => `t${i}`)
    await assert.rejects(cache.invalidateTags(many), InvalidArgumentError)
    await assert.rejects(cache.invalidateTags([]), InvalidArgumentError)
    await assert.rejects(cache.invalidateTags(['']), InvalidArgumentError)
    // The most tags allowed are accepted; duplicates are one tag.
    const most = Array.from({ length: MAX_TAGS_PER_ENTRY }, (_, i) => `t${i % (MAX_TAGS_PER_ENTRY - 1)}`)
    most[MAX_TAGS_PER_ENTRY - 1] = `t${MAX_TAGS_PER_ENTRY - 1}`
    await cache.set('k', 1, { tags: most })
    assert.equal(await cache.invalidateTags([`t${MAX_TAGS_PER_ENTRY - 1}`]), 1)
  })

  it('cache (tags): memoized results carry their tags; an invalidated one is never served stale', async () => {
    const cache = await open()
    if (cache === undefined) return
    let calls = 0
    let down = false
    cache.on('error', () => undefined) // the failed background refresh
    const plan = cache.cache({
      scope: 'organization',
      namespace: 'tagsGrace',
      ttlSeconds: 0.05,
      graceSeconds: 60,
      tags: (args: { orgId: string }) => [`plan-of:${args.orgId}`],
    })(async (args: { orgId: string }) => {
      void args
      calls++
      if (down) throw new Error('the plan service is down')
      return calls
    })
    assert.equal(await plan({ orgId: 'o1' }), 1)
    assert.equal(await plan({ orgId: 'o2' }), 2)
    await sleep(100)
    down = true
    assert.equal(await plan({ orgId: 'o1' }), 1) // stale, within grace, while the service is down
    assert.equal(await cache.invalidateTags(['plan-of:o1'], { scope: 'organization', orgId: 'o1' }), 1)
    await assert.rejects(plan({ orgId: 'o1' }), /the plan service is down/)
    assert.equal(await plan({ orgId: 'o2' }), 2) // another tenant's stale value is still served
    // Bad tags from the tags option: the call rejects with InvalidArgumentError, the function never runs.
    const badTags = cache.cache({ namespace: 'tagsBad', tags: () => ['ok', 'not\u0007ok'] })(async () => 1)
    await assert.rejects(badTags(), InvalidArgumentError)
  })

  it('cache (tags): a memoized computation running during an invalidation of its scope is not stored', async () => {
    const cache = await open()
    if (cache === undefined) return
    let version = 1
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const load = cache.cache({ scope: 'organization', namespace: 'tagsFlight' })(async (args: {
      orgId: string
    }) => {
      void args
      const seen = version
      started()
      await gate
      return seen
    })
    const first = load({ orgId: 'o1' })
    await running
    version = 2
    await cache.invalidateTags(['plan:pro'], { scope: 'organization', orgId: 'o1' })
    release()
    assert.equal(await first, 1)
    assert.equal(await load({ orgId: 'o1' }), 2)
  })
}
