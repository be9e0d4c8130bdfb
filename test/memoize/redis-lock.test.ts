/**
 * Stampede protection across processes on a real Redis (standalone and Cluster): three real Node
 * processes, 1,000 concurrent misses of one key, one run of the function; a lock holder killed with
 * SIGKILL blocks the others only until its lock's TTL; the lock's own semantics (slot, token, expiry,
 * renewal); grace over Redis with several caches standing for several processes.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Cluster, Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Cache, ScopeConfig, ScopeLevel, TimeoutError } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { freePort, sleep, uniqueName } from '../support/services.js'
import { redisTargets } from '../support/redis-targets.js'
import { redisInternals } from '../../src/storage/redis/storage.js'

const PEER = fileURLToPath(new URL('./fixtures/lock-peer.ts', import.meta.url))
const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId')])

/** A running peer process and the lines it printed. */
class Peer {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly #lines: string[] = []
  readonly #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = []
  #err = ''

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', PEER], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let buffer = ''
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      let nl: number
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        this.#lines.push(line)
        for (const waiter of [...this.#waiters]) {
          if (waiter.test(line)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
            waiter.resolve(line)
          }
        }
      }
    })
    this.child.stderr!.on('data', (chunk: Buffer) => (this.#err += chunk.toString()))
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)))
  }

  /** The first line (printed or to come) that passes `test`; rejects if the process exits first. */
  line(test: (line: string) => boolean): Promise<string> {
    const seen = this.#lines.find(test)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      this.#waiters.push({ test, resolve })
      void this.exited.then((code) => reject(new Error(`peer exited with ${code}: ${this.#err}`)))
    })
  }

  /** The JSON line the peer printed last, once it exited with code 0. */
  async result(): Promise<Record<string, unknown>> {
    const code = await this.exited
    if (code !== 0) throw new Error(`peer exited with ${code}: ${this.#err}`)
    return JSON.parse(this.#lines.at(-1)!) as Record<string, unknown>
  }
}

const targets = redisTargets({ commandTimeoutMs: 5000 })

/** Every key matching `pattern`, on each master of a Cluster. */
async function keysMatching(client: Redis | Cluster, pattern: string): Promise<string[]> {
  if (!client.isCluster) return (client as Redis).keys(pattern)
  const nodes = (client as Cluster).nodes('master')
  return (await Promise.all(nodes.map((node) => node.keys(pattern)))).flat()
}

describe.skipIf(targets.length === 0).each(targets)('stampede protection on Redis ($name)', (target) => {
  const open: Cache<typeof scopes, RedisStorage>[] = []
  const peers: Peer[] = []
  const makeCache = (prefix: string) => {
    const cache = new Cache({ scopes, storage: target.storage(prefix) })
    open.push(cache)
    return cache
  }
  afterEach(async () => {
    vi.useRealTimers()
    for (const peer of peers.splice(0)) {
      if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL')
      await peer.exited
    }
    for (const cache of open.splice(0)) {
      await cache.clear()
      await redisInternals.client(cache.storage).del(`${cache.storage.prefix}:runs`)
      await cache.close()
    }
  })

  /** Three peers, each making `calls` concurrent calls of one key once all are ready. */
  async function stampede(lock: boolean, calls: number[]) {
    const prefix = uniqueName('stampede')
    const admin = makeCache(prefix)
    const env = {
      ...target.env,
      PEER_PREFIX: prefix,
      PEER_MODE: 'stampede',
      PEER_COUNTER: `${prefix}:runs`,
      PEER_LOCK: lock ? '1' : '0',
      PEER_LOCK_TTL_MS: '5000',
      PEER_WORK_MS: '300',
    }
    const started = calls.map((n) => new Peer({ ...env, PEER_CALLS: String(n) }))
    peers.push(...started)
    await Promise.all(started.map((peer) => peer.line((line) => line === 'ready')))
    for (const peer of started) peer.child.stdin!.write('go\n')
    const results = await Promise.all(started.map((peer) => peer.result()))
    const runs = Number(await redisInternals.client(admin.storage).get(`${prefix}:runs`))
    return { results, runs }
  }

  it('1,000 concurrent misses of one key across three processes run the function once', async () => {
    const { results, runs } = await stampede(true, [334, 333, 333])
    console.log(
      `[${target.name}] 1,000 misses over 3 processes, function 300 ms: ${runs} run(s); per process ${results.map((r) => `${String(r.ms)} ms`).join(', ')}`,
    )
    expect(runs).toBe(1)
    expect(results.map((r) => r.calls)).toEqual([334, 333, 333])
    expect(results.reduce((sum, r) => sum + Number(r.runs), 0)).toBe(1)
    // Every call of every process got the one result, computed by one of them.
    const distinct = new Set(results.flatMap((r) => r.distinct as string[]))
    expect(distinct.size).toBe(1)
  }, 60_000)

  it.skipIf(target.name === 'cluster')(
    'control: without the lock each process runs the function once (3 runs)',
    async () => {
      const { runs } = await stampede(false, [334, 333, 333])
      expect(runs).toBe(3)
    },
    60_000,
  )

  it('a holder killed with SIGKILL blocks the others only until its lock expires', async () => {
    const prefix = uniqueName('killed')
    const cache = makeCache(prefix)
    const client = redisInternals.client(cache.storage)
    const holder = new Peer({
      ...target.env,
      PEER_PREFIX: prefix,
      PEER_MODE: 'hold',
      PEER_COUNTER: `${prefix}:runs`,
      PEER_LOCK: '1',
      PEER_LOCK_TTL_MS: '1500',
    })
    peers.push(holder)
    await holder.line((line) => line === 'holding')
    holder.child.kill('SIGKILL')
    await holder.exited
    const [lockKey] = await keysMatching(client, `${prefix}:*:l:*`)
    expect(lockKey).toBeDefined() // the dead process still holds the lock
    const left = await client.pttl(lockKey!)
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThanOrEqual(1500)

    let runs = 0
    const report = cache.cache({
      namespace: 'report',
      scope: 'organization',
      ttlSeconds: 60,
      lock: { ttlMs: 1500, waitMs: 60_000 },
    })(async (args: { orgId: string }) => {
      runs++
      await client.incr(`${prefix}:runs`)
      return { org: args.orgId, by: 'parent' }
    })
    const start = performance.now()
    expect(await report({ orgId: 'o1' })).toEqual({ org: 'o1', by: 'parent' })
    const waited = performance.now() - start
    console.log(
      `[${target.name}] lock of a killed holder: ${left} ms left, the next caller waited ${waited.toFixed(0)} ms`,
    )
    expect(runs).toBe(1)
    expect(Number(await client.get(`${prefix}:runs`))).toBe(2) // the killed holder's run, then ours
    expect(waited).toBeGreaterThanOrEqual(left - 100) // it respected the lock while it lived...
    expect(waited).toBeLessThan(30_000) // ...and did not wait for waitMs (60 s): the lock expired
    expect(await keysMatching(client, `${prefix}:*:l:*`)).toEqual([]) // released after storing
  }, 60_000)

  it('the lock key lives in the entry’s hash slot, apart from its data', async () => {
    const prefix = uniqueName('locks')
    const cache = makeCache(prefix)
    const { locks } = cache.storage
    const client = redisInternals.client(cache.storage)
    const ref = { scope: [{ level: 'organization', id: 'o{1}' }], key: 'k' }
    await cache.set('k', 1, { scope: 'organization', orgId: 'o{1}' })
    const held = await locks.acquire(ref, 10_000)
    const [lockKey] = await keysMatching(client, `${prefix}:*:l:*`)
    const [dataKey] = await keysMatching(client, `${prefix}:*:d:*`)
    expect(lockKey).toBe(`${prefix}:{organization=o%7B1%7D/}:l:organization=o%7B1%7D/|k`)
    expect(dataKey).toBe(`${prefix}:{organization=o%7B1%7D/}:d:organization=o%7B1%7D/|k`)
    if (client.isCluster) {
      const slotOf = (key: string) => client.cluster('KEYSLOT', key) as Promise<number>
      expect(await slotOf(lockKey!)).toBe(await slotOf(dataKey!))
    }
    const left = await client.pttl(lockKey!)
    expect(left).toBeGreaterThan(9000)
    expect(left).toBeLessThanOrEqual(10_000)
    expect(await locks.release(held!)).toBe(true)
    expect(await keysMatching(client, `${prefix}:*:l:*`)).toEqual([])
  })

  it('a holder slower than the lock TTL keeps its lock by renewal; waitMs bounds a waiter', async () => {
    const prefix = uniqueName('renew')
    let runs = 0
    const caches = [makeCache(prefix), makeCache(prefix), makeCache(prefix)]
    await Promise.all(caches.map((cache) => cache.get('warm-up'))) // connected: a takes the lock first
    const [a, b, c] = caches.map((cache, i) =>
      cache.cache({
        namespace: 'slow',
        ttlSeconds: 60,
        lock: { ttlMs: 600, waitMs: i === 2 ? 300 : 10_000 },
      })(async (n: number) => {
        const run = ++runs
        await sleep(2000)
        return n * 10 + run
      }),
    ) as unknown as [
      (n: number) => Promise<number>,
      (n: number) => Promise<number>,
      (n: number) => Promise<number>,
    ]
    const first = a(1)
    await sleep(50)
    const second = b(1) // waits: the lock is renewed past its 600 ms TTL while a runs
    const third = c(1) // gives up after 300 ms and runs the function itself
    expect(await first).toBe(11)
    expect(await second).toBe(11)
    expect(await third).toBe(12)
    expect(runs).toBe(2)
  })

  it('grace: a stale entry is served by every process while one of them refreshes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t0 = Date.now()
    const prefix = uniqueName('grace')
    let runs = 0
    const make = () =>
      makeCache(prefix).cache({ namespace: 'price', ttlSeconds: 1, graceSeconds: 60, lock: true })(
        async (sku: string) => {
          runs++
          await sleep(100)
          return `${sku}@${runs}`
        },
      )
    const processes = [make(), make(), make()]
    expect(await processes[0]!('a')).toBe('a@1')
    expect(await processes[1]!('a')).toBe('a@1')
    vi.setSystemTime(t0 + 1500)
    const stale = await Promise.all(processes.flatMap((f) => [f('a'), f('a')]))
    expect(stale).toEqual(Array(6).fill('a@1'))
    await sleep(300)
    expect(runs).toBe(2) // one refresh among the three caches: the others found the lock taken
    for (const f of processes) expect(await f('a')).toBe('a@2')
  })

  it('grace, soft and hard timeouts over Redis: stored ttl + grace, a late result reaches every process', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }) // staleness only; Redis expires on its own clock
    const prefix = uniqueName('timeouts')
    const caches = [makeCache(prefix), makeCache(prefix)]
    let runs = 0
    const [a, b] = caches.map((cache) =>
      cache.cache({
        namespace: 'quote',
        ttlSeconds: 2,
        graceSeconds: 30,
        softTimeoutMs: 1000,
        hardTimeoutMs: 100,
      })(async (symbol: string) => {
        const run = ++runs
        await sleep(run === 1 ? 400 : 20)
        return `${symbol}#${run}`
      }),
    ) as unknown as [(symbol: string) => Promise<string>, (symbol: string) => Promise<string>]
    await expect(a('X')).rejects.toBeInstanceOf(TimeoutError) // the first run takes 400 ms
    await sleep(600)
    expect(await b('X')).toBe('X#1') // stored when it arrived, read by the other cache
    const client = redisInternals.client(caches[0]!.storage)
    const [dataKey] = await keysMatching(client, `${prefix}:*:d:*`)
    const stored = await client.pttl(dataKey!)
    expect(stored).toBeGreaterThan(20_000) // ttl 2 s + grace 30 s
    expect(stored).toBeLessThanOrEqual(32_000)
    vi.setSystemTime(Date.now() + 2500) // stale now
    expect(await b('X')).toBe('X#2') // the 20 ms refresh arrives within the soft timeout
    expect(await a('X')).toBe('X#2')
    expect(runs).toBe(2)
  })

  it('a memoizer with grace reads entries written without it, and the other way round', async () => {
    const prefix = uniqueName('mixed')
    const plain = makeCache(prefix).cache({ namespace: 'mixed', ttlSeconds: 60 })(async (n: number) => ({
      n,
    }))
    const graced = makeCache(prefix).cache({ namespace: 'mixed', ttlSeconds: 60, graceSeconds: 60 })(
      async (n: number) => ({ n, graced: true }),
    )
    expect(await plain(1)).toEqual({ n: 1 })
    expect(await graced(1)).toEqual({ n: 1 })
    expect(await graced(2)).toEqual({ n: 2, graced: true })
    expect(await plain(2)).toEqual({ n: 2, graced: true })
  })
})

describe('lock with Redis down', () => {
  it('fails open: the function runs, the read, lock and fence failures are error events', async () => {
    const port = await freePort() // nothing listens there: a real refused connection
    const cache = new Cache({
      scopes,
      storage: new RedisStorage({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 }),
    })
    const operations: string[] = []
    cache.on('error', (error, { operation }) => {
      expect(error.code).toBe('ERR_CACHEADO_STORAGE')
      operations.push(operation)
    })
    let runs = 0
    const load = cache.cache({ namespace: 'down', ttlSeconds: 60, lock: true })(async (n: number) => {
      runs++
      return n * 2
    })
    expect(await load(21)).toBe(42)
    expect(runs).toBe(1)
    expect(operations).toEqual(['get', 'lock', 'fence']) // without its fence the result is answered, not stored
    await cache.close()
  })
})
