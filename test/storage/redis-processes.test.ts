/**
 * Two real Node processes sharing one Redis: each sees the other's entries (memoized ones included),
 * and a cache-wide LRU bound holds across both.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, LRUEvict, ScopeConfig, ScopeLevel } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'
import { redisTargets } from '../support/redis-targets.js'

const PEER = fileURLToPath(new URL('./fixtures/redis-peer.ts', import.meta.url))
const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
const user = { scope: 'user', orgId: 'o1', userId: 'u1' } as const

/** Runs the peer process to completion and returns its JSON line. */
function peer(env: Record<string, string>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PEER], {
      env: { ...process.env, ...env },
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

const targets = redisTargets()

describe.skipIf(targets.length === 0).each(targets)('two processes on one Redis ($name)', (target) => {
  const open: Cache<typeof scopes, RedisStorage>[] = []
  const makeCache = (prefix: string, maxItems?: number) => {
    const rules = maxItems === undefined ? [] : [new LRUEvict({ maxItems })]
    const cache = new Cache({ scopes, storage: target.storage(prefix), rules })
    open.push(cache)
    return cache
  }
  afterEach(async () => {
    for (const cache of open.splice(0)) {
      await cache.clear()
      await cache.close()
    }
  })

  it('the parent reads what another process wrote, memoized results included', async () => {
    const prefix = uniqueName('peer')
    const result = await peer({ ...target.env, PEER_PREFIX: prefix, PEER_MODE: 'write' })
    expect(result.calls).toBe(1)
    const cache = makeCache(prefix)
    const value = await cache.get<{ from: string; at: Date; tags: Set<string> }>('from-peer', user)
    expect(value?.from).toBe('peer')
    expect(value?.at).toEqual(new Date(0))
    expect(value?.tags).toEqual(new Set(['a']))
    let calls = 0
    const profile = cache.cache({ namespace: 'profile', scope: 'user', ttlSeconds: 60 })(async (args: {
      orgId: string
      userId: string
    }) => {
      calls++
      return { name: 'computed by parent', user: args.userId }
    })
    expect(await profile({ orgId: 'o1', userId: 'u1' })).toEqual({
      name: 'computed by write process',
      user: 'u1',
    })
    expect(calls).toBe(0)
  })

  it('another process reads what the parent wrote, memoized results included', async () => {
    const prefix = uniqueName('peer')
    const cache = makeCache(prefix)
    await cache.set('from-parent', { n: 42n }, user)
    const profile = cache.cache({ namespace: 'profile', scope: 'user', ttlSeconds: 60 })(
      async (args: { orgId: string; userId: string }) => ({ name: 'computed by parent', user: args.userId }),
    )
    await profile({ orgId: 'o1', userId: 'u2' })
    const result = await peer({ ...target.env, PEER_PREFIX: prefix, PEER_MODE: 'read' })
    expect(result.calls).toBe(0)
    expect(result.memo).toEqual({ name: 'computed by parent', user: 'u2' })
    expect(result.value).toEqual({ n: 'bigint:42' }) // a BigInt came back in the other process
  })

  it('two processes with LRUEvict({ maxItems: 30 }) keep at most 30 between them', async () => {
    const prefix = uniqueName('bound')
    const cache = makeCache(prefix, 30)
    let peak = 0
    let polling = true
    const poll = (async () => {
      while (polling) {
        peak = Math.max(peak, await cache.stats().then((s) => s.totalKeys ?? 0))
        await new Promise((r) => setTimeout(r, 2))
      }
    })()
    const env = {
      ...target.env,
      PEER_PREFIX: prefix,
      PEER_MODE: 'bound',
      PEER_MAX_ITEMS: '30',
      PEER_WRITES: '200',
    }
    const [a, b] = await Promise.all([peer({ ...env, PEER_ID: 'a' }), peer({ ...env, PEER_ID: 'b' })])
    polling = false
    await poll
    const total = (await cache.stats()).totalKeys!
    expect(total).toBeLessThanOrEqual(30)
    expect(total).toBeGreaterThanOrEqual(target.name === 'standalone' ? 30 : 1)
    // Every write beyond the bound evicted exactly one entry, counted by the process that wrote it.
    if (target.name === 'standalone') {
      expect(Number(a.evicted) + Number(b.evicted)).toBe(400 - 30)
      expect(peak).toBeLessThanOrEqual(30)
    }
    console.log(
      `[${target.name}] cross-process LRU 30: final ${total}, peak seen by size() ${peak}, evicted ${Number(a.evicted) + Number(b.evicted)}`,
    )
    const raw = target.name === 'standalone' ? new Redis(redisUrl!) : undefined
    if (raw) {
      expect(await raw.keys(`${prefix}:*:d:*`)).toHaveLength(total)
      await raw.quit()
    }
  })

  it('two processes with a per-organization quota keep each organization within it, exactly', async () => {
    const prefix = uniqueName('quota')
    const cache = makeCache(prefix)
    const env = {
      ...target.env,
      PEER_PREFIX: prefix,
      PEER_MODE: 'bound',
      PEER_MAX_ITEMS: '8',
      PEER_WRITES: '120',
    }
    await Promise.all([
      peer({ ...env, PEER_ID: 'a', PEER_PER: '1' }),
      peer({ ...env, PEER_ID: 'b', PEER_PER: '1' }),
    ])
    let o1 = 0
    let o2 = 0
    for (const id of ['a', 'b']) {
      for (let i = 0; i < 120; i++) {
        const orgId = i % 10 === 0 ? 'o2' : 'o1'
        if ((await cache.get(`${id}-${i}`, { scope: 'organization', orgId })) !== undefined) {
          if (orgId === 'o1') o1++
          else o2++
        }
      }
    }
    expect(o1).toBe(8) // 216 written into o1
    expect(o2).toBe(8) // 24 written into o2: one noisy organization does not evict the other's
    expect((await cache.stats()).totalKeys).toBe(16)
  })
})
