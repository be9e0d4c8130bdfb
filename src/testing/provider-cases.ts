import assert from 'node:assert/strict'
import type {
  BusMessage,
  EntryHandle,
  EntryRef,
  ScopePath,
  StorageContext,
  StorageProvider,
} from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import type { TestRunner } from './runner.js'
import { sleep } from './cache-cases.js'

/** What the provider-level cases get from {@link describeStorageConformance}. */
export interface ProviderCaseContext {
  /** A new, empty, attached storage (closed after the case). */
  readonly open: () => Promise<StorageProvider>
}

const NO_BOUNDS: StorageContext = {
  bounds: [],
  onEvicted: () => undefined,
  wantsEvictedRefs: false,
}

/** Attaches a storage as a cache without rules would. */
export function attachPlain(storage: StorageProvider): StorageProvider {
  storage.attach(NO_BOUNDS)
  return storage
}

const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (orgId: string, userId: string): ScopePath => [...org(orgId), { level: 'user', id: userId }]
const ref = (scope: ScopePath, key: string): EntryRef => ({ scope, key: `k:${key}` })

/** Waits until `check` holds, polling for up to `ms` (bus delivery is asynchronous). */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) assert.fail(`${what} within ${ms} ms`)
    await sleep(5)
  }
}

/**
 * Cases on the provider itself, one group per optional capability; a capability the provider does not
 * offer skips its cases (its absence is allowed by the contract).
 */
export function providerCases(runner: TestRunner, ctx: ProviderCaseContext): void {
  const { it } = runner
  const { open } = ctx

  it('provider: get answers MISS, set/delete/evictScope/size follow the contract', async () => {
    const s = await open()
    const a = ref(user('o1', 'u1'), 'a')
    assert.equal(await s.get(a), MISS)
    await s.set(a, { v: 1 }, undefined)
    await s.set(ref(user('o1', 'u2'), 'b'), 2, 60_000)
    await s.set(ref(org('o2'), 'c'), 3, undefined)
    assert.deepEqual(await s.get(a), { v: 1 })
    assert.equal(await s.size(), 3)
    assert.equal(await s.delete(a), true)
    assert.equal(await s.delete(a), false)
    assert.equal(await s.evictScope(org('o1')), 1)
    assert.equal(await s.evictScope([]), 1)
    assert.equal(await s.size(), 0)
  })

  it('provider (sync): the synchronous side sees what the async side wrote, and the reverse', async () => {
    const s = await open()
    const sync = s.sync
    if (sync === undefined) return
    const a = ref(user('o', 'u'), 'a')
    await s.set(a, 1, undefined)
    assert.equal(sync.get(a), 1)
    sync.set(ref(user('o', 'u'), 'b'), 2, undefined)
    assert.equal(await s.get(ref(user('o', 'u'), 'b')), 2)
    assert.equal(sync.size(), 2)
    assert.equal(sync.evictScope(org('o')), 2)
    assert.equal(sync.delete(a), false)
    assert.equal(await s.get(a), MISS)
  })

  it('provider (sync handles): a handle reads its entry until the entry leaves the storage by any path', async () => {
    const s = await open()
    const sync = s.sync
    if (sync?.handleOf === undefined || sync.getByHandle === undefined) return
    const a = ref(user('o', 'u'), 'a')
    assert.equal(sync.handleOf(a), undefined)
    sync.set(a, 1, undefined)
    const h = sync.handleOf(a)!
    assert.equal(sync.getByHandle(h), 1)
    sync.set(a, 2, undefined) // an overwrite keeps the entry
    assert.equal(sync.getByHandle(h), 2)
    // Each removal makes the handle stale, also once the ref is written again (a new entry).
    const removals: Array<[string, () => unknown]> = [
      ['delete', () => sync.delete(a)],
      ['evictScope of its user', () => sync.evictScope(user('o', 'u'))],
      ['evictScope of its org', () => sync.evictScope(org('o'))],
      ['clear', () => sync.evictScope([])],
      ['invalidateTags', () => sync.invalidateTags?.(['t'], [])],
    ]
    for (const [what, remove] of removals) {
      const tagged = sync.invalidateTags !== undefined
      if (what === 'invalidateTags' && !tagged) continue
      sync.set(a, 3, undefined, tagged ? { tags: ['t'] } : undefined)
      const held: EntryHandle = sync.handleOf(a)!
      assert.equal(sync.getByHandle(held), 3, what)
      remove()
      assert.equal(sync.getByHandle(held), MISS, `${what}: the handle still reads`)
      sync.set(a, 4, undefined)
      assert.equal(sync.getByHandle(held), MISS, `${what}: the handle reads the new entry`)
      assert.equal(sync.getByHandle(sync.handleOf(a)!), 4, what)
      sync.delete(a)
    }
    // A handle of another storage (of the same kind) does not read this one's entries.
    const other = await open()
    other.sync?.set(a, 'other', undefined)
    const foreign = other.sync?.handleOf?.(a)
    if (foreign !== undefined) assert.equal(sync.getByHandle(foreign), MISS, 'a handle of another storage')
    sync.set(a, 5, 20)
    const expiring = sync.handleOf(a)!
    await sleep(40)
    assert.equal(sync.getByHandle(expiring), MISS, 'expired')
  })

  it('provider (getWithExpiry): the value with an expiry never later than the real one', async () => {
    const s = await open()
    if (s.getWithExpiry === undefined) return
    const a = ref(org('o'), 'a')
    assert.equal(await s.getWithExpiry(a), MISS)
    const before = Date.now()
    await s.set(a, 'x', 5_000)
    const after = Date.now()
    const got = await s.getWithExpiry(a)
    assert.notEqual(got, MISS)
    if (got === MISS) return
    assert.equal(got.value, 'x')
    assert.ok(got.expiresAt !== undefined && got.expiresAt <= after + 5_000, 'expiry reported too late')
    assert.ok(got.expiresAt! >= before + 5_000 - 1_000, 'expiry implausibly early')
    await s.set(a, 'y', undefined)
    const forever = await s.getWithExpiry(a)
    assert.ok(forever !== MISS && forever.expiresAt === undefined, 'a write without TTL has no expiry')
  })

  it('provider (list): the live entries stored directly in a scope, not its descendants’ nor expired ones', async () => {
    const s = await open()
    if (s.list === undefined) return
    const sorted = (pairs: ReadonlyArray<readonly [string, unknown]>) =>
      [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    assert.deepEqual(await s.list(org('o')), [])
    // ids and keys that look like the encoding's separators, and a sibling whose id extends this one
    const o = org('o|/=%}')
    await s.set({ scope: o, key: 'a|b/}' }, { v: 1 }, undefined)
    await s.set({ scope: o, key: '' }, null, 60_000)
    await s.set({ scope: o, key: 'gone' }, 3, 1)
    await s.set({ scope: [...o, { level: 'user', id: 'u' }], key: 'deeper' }, 4, undefined)
    await s.set({ scope: org('o|/=%}x'), key: 'sibling' }, 5, undefined)
    await s.set({ scope: [], key: 'global' }, 6, undefined)
    await sleep(20)
    assert.deepEqual(sorted(await s.list(o)), [
      ['', null],
      ['a|b/}', { v: 1 }],
    ])
    assert.deepEqual(await s.list([]), [['global', 6]])
    assert.deepEqual(await s.list([...o, { level: 'user', id: 'u' }]), [['deeper', 4]])
    await s.evictScope(o)
    assert.deepEqual(await s.list(o), [])
  })

  it('provider (locks): one holder at a time, release and extend by token only, expiry frees it', async () => {
    const s = await open()
    const locks = s.locks
    if (locks === undefined) return
    const a = ref(org('o'), 'a')
    const first = await locks.acquire(a, 10_000)
    assert.ok(first !== undefined, 'a free lock is acquired')
    assert.equal(await locks.acquire(a, 10_000), undefined, 'a held lock is not acquired twice')
    assert.equal(await locks.release({ ref: a, token: `${first.token}-not-mine` }), false)
    assert.equal(await locks.extend(first, 10_000), true)
    assert.equal(await locks.release(first), true)
    assert.equal(await locks.release(first), false)
    const short = await locks.acquire(a, 150)
    assert.ok(short !== undefined)
    await sleep(300)
    const next = await locks.acquire(a, 10_000)
    assert.ok(next !== undefined, 'an expired lock is free again')
    assert.equal(await locks.extend(short, 10_000), false, 'a lost lock cannot be extended')
    assert.equal(await s.size(), 0, 'locks are not entries')
    await locks.release(next)
  })

  it('provider (createBus, setAndPublish, invalidateTagsAndPublish): another subscriber receives the message of a write and of a tag invalidation', async () => {
    const s = await open()
    if (s.createBus === undefined) return
    const sender = s.createBus()
    const receiver = s.createBus()
    const received: BusMessage[] = []
    const errors: unknown[] = []
    try {
      receiver.subscribe({
        origin: 'receiver',
        onMessage: (message) => received.push(message),
        onReset: () => undefined,
        onError: (error) => errors.push(error),
      })
      sender.subscribe({
        origin: 'sender',
        onMessage: () => undefined,
        onReset: () => undefined,
        onError: () => undefined,
      })
      const a = ref(user('o', 'u'), 'a')
      const message: BusMessage = { origin: 'sender', invalidation: { kind: 'entries', refs: [a] } }
      // The subscription may take a moment: publish until one arrives.
      await eventually(
        () => {
          if (received.length === 0) void sender.publish(message).catch(() => undefined)
          return received.length !== 0
        },
        5_000,
        'a published message arrives',
      )
      assert.deepEqual(received[0]!.invalidation, message.invalidation)
      if (sender.receivers !== undefined) {
        // A receiver that hears messages is never missed by the count (writers skip announcing on 0).
        assert.ok((await sender.receivers()) >= 1, 'Bus.receivers() counts a subscribed receiver')
      }
      if (s.setAndPublish !== undefined) {
        // Publishes of the retry loop above may still be arriving: look for the scoped message.
        const scoped: BusMessage = { origin: 'sender', invalidation: { kind: 'scope', path: org('o') } }
        const isScoped = (m: BusMessage): boolean => m.invalidation.kind === 'scope'
        await s.setAndPublish(a, 'v', undefined, scoped)
        assert.equal(await s.get(a), 'v')
        await eventually(() => received.some(isScoped), 2_000, 'the message of setAndPublish arrives')
        assert.deepEqual(received.find(isScoped)!.invalidation, scoped.invalidation)
      }
      if (s.invalidateTagsAndPublish !== undefined) {
        // The message leaves once the entries are gone, and names the scope.
        const tagged = ref(user('tp', 'u'), 'tagged')
        const kept = ref(user('tp', 'u'), 'kept')
        await s.set(tagged, 'v', undefined, { tags: ['plan:pro'] })
        await s.set(kept, 'v', undefined, { tags: ['plan:free'] })
        const path = org('tp')
        const isOurs = (m: BusMessage): boolean =>
          m.invalidation.kind === 'scope' && m.invalidation.path[0]?.id === 'tp'
        const seen = received.length
        const removed = await s.invalidateTagsAndPublish(['plan:pro'], path, {
          origin: 'sender',
          invalidation: { kind: 'scope', path },
        })
        assert.equal(removed, 1, 'invalidateTagsAndPublish resolves how many entries it removed')
        await eventually(
          () => received.slice(seen).some(isOurs),
          2_000,
          'the message of invalidateTagsAndPublish arrives',
        )
        assert.equal(await s.get(tagged), MISS, 'the tagged entry is gone')
        assert.equal(await s.get(kept), 'v', 'an entry without the tag is kept')
        assert.deepEqual(received.slice(seen).find(isOurs)!.invalidation, { kind: 'scope', path })
      }
      assert.deepEqual(errors, [])
    } finally {
      await Promise.all([sender.close(), receiver.close()])
    }
  })

  it('provider (fence): a write fenced before an eviction of its scope, an ancestor or everything is refused', async () => {
    const s = await open()
    if (s.fence === undefined || s.setFenced === undefined) return
    const fence = s.fence.bind(s)
    const setFenced = s.setFenced.bind(s)
    const a = ref(user('o', 'u'), 'a')
    const free = await fence(a)
    assert.equal(await setFenced(a, 'kept', undefined, free), true, 'no eviction: stored')
    assert.equal(await s.get(a), 'kept')
    for (const evicted of [user('o', 'u'), org('o'), []] as ScopePath[]) {
      const taken = await fence(a)
      await s.evictScope(evicted)
      assert.equal(
        await setFenced(a, 'stale', undefined, taken),
        false,
        `after evictScope(${JSON.stringify(evicted)})`,
      )
      assert.equal(await s.get(a), MISS, 'nothing computed before the eviction is stored after it')
    }
    const fresh = await fence(a)
    assert.equal(await setFenced(a, 'after', 60_000, fresh), true, 'a fence taken after the eviction stores')
    assert.equal(await s.get(a), 'after')
  })
}
