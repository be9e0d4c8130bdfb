/**
 * Byte budgets across processes on Redis: two child processes and this one share a `maxBytes`
 * budget (cache-wide, and per organization), and the bytes Redis really holds never exceed it.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, LRUEvict, ScopeConfig, ScopeLevel } from '../../src/index.js'
import type { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'
import { redisTargets } from '../support/redis-targets.js'

const PEER = fileURLToPath(new URL('./fixtures/redis-peer.ts', import.meta.url))
const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])

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

/** Sum of the byte lengths of the values stored under `prefix` (standalone Redis). */
async function storedBytes(prefix: string): Promise<number> {
  const raw = new Redis(redisUrl!)
  try {
    let total = 0
    for (const key of await raw.keys(`${prefix}:*:d:*`)) total += await raw.strlen(key)
    return total
  } finally {
    await raw.quit()
  }
}

const targets = redisTargets()
const BUDGET = 3000

describe.skipIf(targets.length === 0).each(targets)(
  'a byte budget shared by processes on Redis ($name)',
  (target) => {
    const open: Cache<typeof scopes, RedisStorage>[] = []
    const makeCache = (prefix: string, per?: 'organization') => {
      const cache = new Cache({
        scopes,
        storage: target.storage(prefix),
        rules: [new LRUEvict({ maxBytes: BUDGET, per })],
      })
      open.push(cache)
      return cache
    }
    afterEach(async () => {
      for (const cache of open.splice(0)) {
        await cache.clear()
        await cache.close()
      }
    })

    it(`two processes writing 400 values of ~100 bytes under LRUEvict({ maxBytes: ${BUDGET} }) never hold more`, async () => {
      const prefix = uniqueName('bytes')
      const cache = makeCache(prefix)
      let peak = 0
      let polling = true
      const poll = (async () => {
        while (polling) {
          peak = Math.max(peak, (await cache.stats()).bytes?.total ?? 0)
          await new Promise((r) => setTimeout(r, 2))
        }
      })()
      const env = {
        ...target.env,
        PEER_PREFIX: prefix,
        PEER_MODE: 'bound',
        PEER_MAX_BYTES: String(BUDGET),
        PEER_WRITES: '200',
      }
      const [a, b] = await Promise.all([peer({ ...env, PEER_ID: 'a' }), peer({ ...env, PEER_ID: 'b' })])
      polling = false
      await poll
      const stats = await cache.stats()
      const total = stats.bytes!.total
      expect(total).toBeLessThanOrEqual(BUDGET)
      expect(stats.totalKeys!).toBeLessThan(400)
      if (target.name === 'standalone') {
        expect(peak).toBeLessThanOrEqual(BUDGET) // exact: the budget is kept inside each write script
        expect(total).toBeGreaterThan(BUDGET - 200) // full, short of at most one entry
        expect(await storedBytes(prefix)).toBe(total) // the counter is what Redis really holds
        expect(Number(a.evicted) + Number(b.evicted)).toBe(400 - stats.totalKeys!)
      }
      console.log(
        `[${target.name}] cross-process maxBytes ${BUDGET}: final ${total} bytes in ${stats.totalKeys} entries, peak seen ${peak}`,
      )
    })

    it('two processes with a per-organization byte quota keep each organization within it', async () => {
      const prefix = uniqueName('bytequota')
      const cache = makeCache(prefix, 'organization')
      const env = {
        ...target.env,
        PEER_PREFIX: prefix,
        PEER_MODE: 'bound',
        PEER_MAX_BYTES: String(BUDGET),
        PEER_WRITES: '150',
        PEER_PER: '1',
      }
      await Promise.all([peer({ ...env, PEER_ID: 'a' }), peer({ ...env, PEER_ID: 'b' })])
      const { bytes } = await cache.stats()
      const byOrg = new Map(bytes!.top.map((t) => [t.scope[0]!.id, t.bytes]))
      expect(byOrg.get('o1')!).toBeLessThanOrEqual(BUDGET) // 270 values written into o1
      expect(byOrg.get('o1')!).toBeGreaterThan(BUDGET - 200)
      expect(byOrg.get('o2')!).toBeLessThanOrEqual(BUDGET) // 30 into o2: the noisy o1 did not evict them
      expect(byOrg.get('o2')!).toBeGreaterThan(BUDGET - 200)
      expect(bytes!.total).toBe(byOrg.get('o1')! + byOrg.get('o2')!)
      if (target.name === 'standalone') expect(await storedBytes(prefix)).toBe(bytes!.total)
    })
  },
)
