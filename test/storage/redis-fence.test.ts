/**
 * Write fences on Redis (src/storage/redis/fence.ts), standalone and Cluster: a value computed before
 * an eviction (fence taken before it started) is never stored after it, whichever process evicts. Two
 * RedisStorage instances on one prefix are two processes' views; one test uses a real second process.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../src/index.js'
import type { EntryRef, ScopePath, StorageContext } from '../../src/index.js'
import { MISS } from '../../src/storage/contract.js'
import type { RedisStorage } from '../../src/redis.js'
import { FENCE_RETENTION_MS, RedisWriteFence } from '../../src/storage/redis/fence.js'
import { redisTargets } from '../support/redis-targets.js'
import { sleep, uniqueName } from '../support/services.js'

const PEER = fileURLToPath(new URL('./fixtures/redis-peer.ts', import.meta.url))
const targets = redisTargets()

const context: StorageContext = { bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false }
const org = (id: string): ScopePath => [{ level: 'organization', id }]
const user = (o: string, u: string): ScopePath => [...org(o), { level: 'user', id: u }]
const ref = (scope: ScopePath, key = 'k'): EntryRef => ({ scope, key })

/** Runs the peer process in `evict` mode (it evicts PEER_EVICT_ORG, or clears when empty). */
function peerEvict(env: Record<string, string>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PEER], {
      env: { ...process.env, ...env, PEER_MODE: 'evict' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`peer exited with ${code}: ${err}`))
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>)
    })
  })
}

describe.skipIf(targets.length === 0).each(targets)('RedisStorage write fences ($name)', (redis) => {
  const open: RedisStorage[] = []
  /** Two storages on one new prefix: two processes' views of one cache. */
  const pair = () => {
    const prefix = uniqueName('fence')
    const a = redis.storage(prefix)
    const b = redis.storage(prefix)
    a.attach(context)
    b.attach(context)
    open.push(a, b)
    return { prefix, a, b }
  }
  afterEach(async () => {
    for (const storage of open.splice(0)) {
      await storage.evictScope([]).catch(() => undefined)
      await storage.close()
    }
  })

  it('refuses a write whose scope, an ancestor or everything was evicted by another instance', async () => {
    const { a, b } = pair()
    const target = ref(user('o1', 'u1'))
    const evictions: [string, ScopePath][] = [
      ['the scope', user('o1', 'u1')],
      ['an ancestor', org('o1')],
      ['everything', []],
    ]
    for (const [what, path] of evictions) {
      await a.set(ref(user('o1', 'u1'), 'other'), 1, undefined) // the tenant is registered
      const fence = await a.fence(target)
      await b.evictScope(path)
      expect(await a.setFenced(target, 'stale', 60_000, fence), what).toBe(false)
      expect(await a.get(target), what).toBe(MISS)
      expect(await b.get(target), what).toBe(MISS)
      // A fence taken after the eviction stores.
      expect(await a.setFenced(target, 'fresh', 60_000, await a.fence(target)), what).toBe(true)
      expect(await b.get(target), what).toBe('fresh')
      await a.evictScope([])
    }
  })

  it('refuses a global-scope write after a clear, and a new tenant write after a clear', async () => {
    const { a, b } = pair()
    const global = ref([], 'g')
    let fence = await a.fence(global)
    await b.evictScope([])
    expect(await a.setFenced(global, 'stale', undefined, fence)).toBe(false)
    expect(await b.get(global)).toBe(MISS)

    // A tenant nobody wrote yet: clear() cannot see it in the registry, the registration refuses.
    const fresh = ref(user('never-seen', 'u'))
    fence = await a.fence(fresh)
    await b.evictScope([])
    expect(await a.setFenced(fresh, 'stale', undefined, fence)).toBe(false)
    expect(await b.get(fresh)).toBe(MISS)

    // Another process recreates the tenant after the clear: the old fence still refuses.
    fence = await a.fence(fresh)
    await b.evictScope([])
    await b.set(ref(user('never-seen', 'u'), 'other'), 1, undefined)
    expect(await a.setFenced(fresh, 'stale', undefined, fence)).toBe(false)
    expect(await b.get(fresh)).toBe(MISS)
  })

  it('stores every fenced first write of a new tenant, whoever registered it after the fences', async () => {
    const { a, b } = pair()
    for (const scope of [[], user('brand-new', 'u')] as ScopePath[]) {
      const refs = Array.from({ length: 6 }, (_, i) => ref(scope, `k${i}`))
      // every fence is taken while the tenant has no marker; the first write then registers it
      const fences = await Promise.all(refs.map((r, i) => (i % 2 === 0 ? a : b).fence(r)))
      const stored = await Promise.all(
        refs.map((r, i) => (i % 2 === 0 ? a : b).setFenced(r, i, undefined, fences[i]!)),
      )
      expect(stored).toEqual(refs.map(() => true))
      expect(await Promise.all(refs.map((r) => b.get(r)))).toEqual(refs.map((_, i) => i))
    }
    // A plain write registers the tenant after the fence (no clear, no eviction): the fence holds.
    const late = ref(user('late', 'u'))
    const fence = await a.fence(late)
    await b.set(ref(user('late', 'u'), 'other'), 1, undefined)
    expect(await a.setFenced(late, 'kept', undefined, fence)).toBe(true)
    expect(await b.get(late)).toBe('kept')
  })

  it('refuses a write after another instance deleted that entry, not after a delete of another', async () => {
    const { a, b } = pair()
    for (const scope of [[], user('o1', 'u1')] as ScopePath[]) {
      const target = ref(scope, 'target')
      await b.set(target, 'old', undefined)
      let fence = await a.fence(target)
      await b.delete(target)
      expect(await a.setFenced(target, 'computed before the delete', undefined, fence)).toBe(false)
      expect(await b.get(target)).toBe(MISS)
      // deleteMany too, and a delete of an entry that was not stored
      fence = await a.fence(target)
      await b.deleteMany!([target, ref(scope, 'other')])
      expect(await a.setFenced(target, 'stale', undefined, fence)).toBe(false)
      // a delete of another entry leaves the fence alone; a fence taken after the delete holds
      fence = await a.fence(target)
      await b.delete(ref(scope, 'other'))
      expect(await a.setFenced(target, 'kept', undefined, fence)).toBe(true)
      await b.delete(target)
      fence = await a.fence(target)
      expect(await a.setFenced(target, 'after', undefined, fence)).toBe(true)
      expect(await b.get(target)).toBe('after')
    }
  })

  it('does not refuse for an eviction of an unrelated tenant or a sibling scope', async () => {
    const { a, b } = pair()
    await b.set(ref(user('o2', 'x')), 1, undefined)
    await a.set(ref(user('o1', 'u2')), 1, undefined)
    const target = ref(user('o1', 'u1'))
    const fence = await a.fence(target)
    await b.evictScope(org('o2'))
    await b.evictScope(user('o1', 'u2'))
    expect(await a.setFenced(target, 'kept', 60_000, fence)).toBe(true)
    expect(await b.get(target)).toBe('kept')
    // A plain write after the fence (no eviction) does not refuse it either.
    const again = await a.fence(target)
    await b.set(ref(user('o1', 'u1'), 'sibling'), 2, undefined)
    expect(await a.setFenced(target, 'kept again', 60_000, again)).toBe(true)
  })

  it('holds for hostile scope ids and keys (control characters, separators, huge values)', async () => {
    const { a, b } = pair()
    const id = 'a,b\n\u0000|/=%{}:\u001b[31m'
    const target = ref([...org(id), { level: 'user', id: ',' }], 'k,\r\n|')
    const huge = 'x'.repeat(1 << 20)
    await a.set(ref(org(id), 'warm'), 1, undefined)
    let fence = await a.fence(target)
    await b.evictScope(org(id))
    expect(await a.setFenced(target, huge, undefined, fence)).toBe(false)
    expect(await b.get(target)).toBe(MISS)
    fence = await a.fence(target)
    await b.evictScope(org('a,b'))
    expect(await a.setFenced(target, huge, undefined, fence)).toBe(true)
    expect(await b.get(target)).toBe(huge)
  })

  it('refuses a fence older than the retention, a foreign fence, and another entry`s fence', async () => {
    const { a } = pair()
    const target = ref(user('o1', 'u1'))
    await a.set(ref(user('o1', 'u1'), 'warm'), 1, undefined)
    const fence = (await a.fence(target)) as RedisWriteFence
    const [time, ...rest] = fence.packed.split(',')
    const old = new RedisWriteFence(
      fence.member,
      [String(Number(time) - FENCE_RETENTION_MS - 1000), ...rest].join(','),
      fence.global,
    )
    expect(await a.setFenced(target, 'old', undefined, old)).toBe(false)
    expect(await a.get(target)).toBe(MISS)
    await expect(a.setFenced(target, 'x', undefined, { forged: true })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    expect(await a.setFenced(ref(user('o1', 'u2')), 'x', undefined, fence)).toBe(false)
    expect(await a.setFenced(target, 'ok', undefined, fence)).toBe(true)
  })

  it('60 races of a fenced write against an eviction, with random delays: nothing stale survives', async () => {
    const { a, b } = pair()
    let stored = 0
    let refused = 0
    for (let run = 0; run < 60; run++) {
      const path = run % 3 === 0 ? [] : run % 3 === 1 ? org('o1') : user('o1', 'u1')
      const target = ref(user('o1', 'u1'), `k${run}`)
      await b.set(ref(user('o1', 'u1'), 'filler'), run, undefined)
      const fence = await a.fence(target)
      const evict = sleep(Math.random() * 4).then(() => b.evictScope(path))
      const write = sleep(Math.random() * 4).then(() =>
        a.setFenced(target, `stale ${run}`, 60_000, fence, {
          origin: 'a',
          invalidation: { kind: 'entries', refs: [target] },
        }),
      )
      const [, wrote] = await Promise.all([evict, write])
      if (wrote) stored++
      else refused++
      expect(await a.get(target), `run ${run}`).toBe(MISS)
      expect(await b.get(target), `run ${run}`).toBe(MISS)
    }
    expect(stored + refused).toBe(60)
  })

  it('publishes the bus message of a fenced write only when it stores', async () => {
    const { a, b } = pair()
    const bus = b.createBus()
    const got: string[] = []
    let reset = false
    bus.subscribe({
      onMessage: (message) => {
        if (message.invalidation.kind === 'entries') got.push(message.invalidation.refs[0]!.key)
      },
      onReset: () => (reset = true),
      onError: () => undefined,
      origin: 'b',
    })
    try {
      for (let i = 0; i < 200 && !reset; i++) await sleep(10)
      expect(reset).toBe(true)
      const message = (key: string) => ({
        origin: 'a',
        invalidation: { kind: 'entries' as const, refs: [ref(user('o1', 'u1'), key)] },
      })
      await a.set(ref(user('o1', 'u1'), 'warm'), 1, undefined)
      const refused = await a.fence(ref(user('o1', 'u1'), 'refused'))
      await b.evictScope(org('o1'))
      expect(
        await a.setFenced(ref(user('o1', 'u1'), 'refused'), 1, undefined, refused, message('refused')),
      ).toBe(false)
      const stored = await a.fence(ref(user('o1', 'u1'), 'stored'))
      expect(
        await a.setFenced(ref(user('o1', 'u1'), 'stored'), 2, undefined, stored, message('stored')),
      ).toBe(true)
      for (let i = 0; i < 200 && got.length === 0; i++) await sleep(10)
      await sleep(50)
      expect(got).toEqual(['stored'])
    } finally {
      await bus.close()
    }
  })

  it('a real second process evicting refuses the write of this one', async () => {
    const { prefix, a } = pair()
    const target = ref(user('o1', 'u1'))
    await a.set(ref(user('o1', 'u1'), 'warm'), 1, undefined)
    for (const evicted of ['o1', '']) {
      const fence = await a.fence(target)
      const result = await peerEvict({ ...redis.env, PEER_PREFIX: prefix, PEER_EVICT_ORG: evicted })
      expect(result.evicted).toBeTypeOf('number')
      expect(await a.setFenced(target, 'stale', 60_000, fence)).toBe(false)
      expect(await a.get(target)).toBe(MISS)
    }
  })
})
