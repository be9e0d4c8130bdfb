// A memoized call whose function is running when an eviction starts must not store its result after
// the eviction, whether the eviction comes from the same cache or from another cache (another process)
// sharing the storage. Each case repeats the race 60 times with the function resolving at a random
// moment around the eviction's round trips.
import { afterAll, describe, expect, it } from 'vitest'
import type {
  EntryLocks,
  EntryRef,
  LockHandle,
  ScopePath,
  StorageContext,
  StorageProvider,
  WriteFence,
} from '../../src/index.js'
import { Cache, InMemory } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { redisTargets } from '../support/redis-targets.js'
import { mongoUrl, sleep, uniqueName } from '../support/services.js'

const RUNS = 60

/**
 * One shared "server" for {@link FencedMemory}: an in-memory store plus a generation counter that
 * every applied eviction bumps. It stands for a remote backend that implements fences.
 */
class FencedBackend {
  readonly store = new InMemory()
  generation = 0
  /** Entry locks: holder token per encoded ref (TTLs are not needed by these short tests). */
  readonly locks = new Map<string, string>()
  #attached = false
  attach(context: StorageContext): void {
    if (!this.#attached) this.store.attach(context)
    this.#attached = true
  }
}

/**
 * A storage that wraps a shared {@link FencedBackend} the way a remote backend behaves: every
 * operation takes a round trip (1 ms), an eviction is applied after one and answers after two more,
 * and `fence`/`setFenced` implement the contract with one generation counter (the coarsest grain the
 * contract allows). It adds a capability to the real in-memory store; it does not replace a server.
 */
class FencedMemory implements StorageProvider {
  readonly storageType = 'fenced_memory'
  readonly supportsBounds = false
  readonly #backend: FencedBackend
  readonly #fences: boolean
  /** Entry locks shared by every wrapper of one backend, each call a round trip. */
  readonly locks: EntryLocks = {
    acquire: async (ref: EntryRef): Promise<LockHandle | undefined> => {
      await sleep(1)
      const id = JSON.stringify(ref)
      if (this.#backend.locks.has(id)) return undefined
      const token = Math.random().toString(36)
      this.#backend.locks.set(id, token)
      return { ref, token }
    },
    extend: async (handle: LockHandle): Promise<boolean> =>
      this.#backend.locks.get(JSON.stringify(handle.ref)) === handle.token,
    release: async (handle: LockHandle): Promise<boolean> => {
      await sleep(1)
      const id = JSON.stringify(handle.ref)
      if (this.#backend.locks.get(id) !== handle.token) return false
      this.#backend.locks.delete(id)
      return true
    },
  }
  constructor(backend: FencedBackend, fences = true) {
    this.#backend = backend
    this.#fences = fences
    if (!fences) {
      // Without the capability (the contract's methods are optional).
      ;(this as { fence?: unknown }).fence = undefined
      ;(this as { setFenced?: unknown }).setFenced = undefined
    }
  }
  attach(context: StorageContext): void {
    this.#backend.attach(context)
  }
  async get(ref: EntryRef): Promise<unknown> {
    await sleep(1)
    return this.#backend.store.sync.get(ref)
  }
  async set(ref: EntryRef, value: unknown, ttlMs: number | undefined): Promise<void> {
    await sleep(1)
    this.#backend.store.sync.set(ref, value, ttlMs)
  }
  async delete(ref: EntryRef): Promise<boolean> {
    await sleep(1)
    return this.#backend.store.sync.delete(ref)
  }
  async evictScope(path: ScopePath): Promise<number> {
    await sleep(1)
    this.#backend.generation++
    const removed = this.#backend.store.sync.evictScope(path)
    await sleep(2)
    return removed
  }
  async size(): Promise<number> {
    return this.#backend.store.sync.size()
  }
  async close(): Promise<void> {}
  async fence(_ref: EntryRef): Promise<WriteFence> {
    if (!this.#fences) throw new Error('no fences')
    await sleep(1)
    return { generation: this.#backend.generation }
  }
  async setFenced(
    ref: EntryRef,
    value: unknown,
    ttlMs: number | undefined,
    fence: WriteFence,
  ): Promise<boolean> {
    await sleep(1)
    if ((fence as { generation: number }).generation !== this.#backend.generation) return false
    this.#backend.store.sync.set(ref, value, ttlMs)
    return true
  }
}

/** Two caches over one storage: `a` runs the memoized calls, `b` is "another process". */
interface Pair {
  readonly a: Cache<never, StorageProvider>
  readonly b: Cache<never, StorageProvider> | undefined
}

interface Backend {
  readonly name: string
  /** Whether the cross-cache case applies (a storage shared by several caches). */
  readonly shared: boolean
  make(): Pair
}

const backends: Backend[] = [
  {
    name: 'memory',
    shared: false,
    make: () => ({ a: new Cache() as unknown as Pair['a'], b: undefined }),
  },
  {
    name: 'fenced memory (custom provider)',
    shared: true,
    make: () => {
      const backend = new FencedBackend()
      return {
        a: new Cache({ storage: new FencedMemory(backend) }) as unknown as Pair['a'],
        b: new Cache({ storage: new FencedMemory(backend) }) as unknown as Pair['a'],
      }
    },
  },
  ...redisTargets().map((target): Backend => ({
    name: `redis ${target.name}`,
    shared: true,
    make: () => {
      const prefix = uniqueName('races')
      return {
        a: new Cache({ storage: target.storage(prefix) }) as unknown as Pair['a'],
        b: new Cache({ storage: target.storage(prefix) }) as unknown as Pair['a'],
      }
    },
  })),
  ...(mongoUrl === undefined
    ? []
    : [
        {
          name: 'ferretdb',
          shared: true,
          make: () => {
            const collectionName = uniqueName('races')
            const storage = () =>
              new MongoDBStorage({ url: mongoUrl!, dbName: 'cacheado_test', collectionName })
            return {
              a: new Cache({ storage: storage() }) as unknown as Pair['a'],
              b: new Cache({ storage: storage() }) as unknown as Pair['a'],
            }
          },
        },
      ]),
]

const opened: Cache<never, StorageProvider>[] = []
afterAll(async () => {
  await Promise.all(opened.map((cache) => cache.close()))
})

type Memo = (params: { orgId: string }) => Promise<string>

/**
 * Which computation overlaps the eviction: a plain miss, a miss under the cross-process `lock`, or the
 * background refresh of a stale entry (`graceSeconds`).
 */
type Path = 'miss' | 'lock' | 'refresh'

/** How long a refreshed entry stays fresh in the `refresh` race, in ms. */
const FRESH_MS = 10

/**
 * Runs the race `runs` times: a memoized call on `a` whose function is running when `evictor` evicts
 * the scope (or clears), and that resolves at a random moment around the eviction. Answers the runs
 * after which the pre-eviction result could be read back.
 */
async function race(
  pair: Pair,
  evictor: 'a' | 'b',
  kind: 'evictByScope' | 'clear',
  path: Path = 'miss',
  runs = RUNS,
): Promise<number[]> {
  const { a } = pair
  const b = pair.b ?? a
  opened.push(a, b)
  let mode: 'first' | 'gated' | 'fresh' = 'fresh'
  let gate: Promise<void> = Promise.resolve()
  let started = () => {}
  let computed = () => {}
  const fn = async function race(_params: { orgId: string }): Promise<string> {
    if (mode !== 'gated') return mode
    started()
    await gate
    computed()
    return 'old'
  }
  const options = {
    scope: 'organization' as never,
    namespace: 'race',
    ...(path === 'lock' ? { lock: true } : {}),
    ...(path === 'refresh' ? { ttlSeconds: FRESH_MS / 1000, graceSeconds: 60 } : {}),
  }
  const loadA = a.cache(options)(fn) as Memo
  const loadB = b === a ? loadA : (b.cache(options)(fn) as Memo)
  const resurrected: number[] = []
  for (let run = 0; run < runs; run++) {
    const orgId = `org${run}`
    if (path === 'refresh') {
      mode = 'first'
      expect(await loadA({ orgId })).toBe('first')
      await sleep(FRESH_MS + 5) // stale: the next call answers 'first' and refreshes in the background
    }
    let release = () => {}
    gate = new Promise<void>((resolve) => (release = resolve))
    const done = new Promise<void>((resolve) => (computed = resolve))
    const running = new Promise<void>((resolve) => (started = resolve))
    mode = 'gated'
    const call = loadA({ orgId })
    await running
    const cache = evictor === 'a' ? a : b
    const eviction =
      kind === 'clear' ? cache.clear() : cache.evictByScope('organization' as never, { orgId } as never)
    // The function resolves during the eviction's round trips, at a different moment each run.
    const pause = run % 4
    if (pause === 0) queueMicrotask(release)
    else setTimeout(release, Math.random() * pause * 1.5)
    expect(await call).toBe(path === 'refresh' ? 'first' : 'old')
    await eviction
    await done
    if (path === 'refresh') await sleep(20) // the refresh stores (or not) after its callers got 'first'
    mode = 'fresh'
    // Nothing computed before the eviction may be read back, from either cache.
    if ((await loadB({ orgId })) !== 'fresh') resurrected.push(run)
  }
  return resurrected
}

describe.each(backends)('a memoized call overlapping an eviction, $name', (backend) => {
  for (const kind of ['evictByScope', 'clear'] as const) {
    it(`${kind} by the same cache: the running call's result is not stored`, async () => {
      const pair = backend.make()
      expect(await race({ a: pair.a, b: undefined }, 'a', kind)).toEqual([])
      if (pair.b !== undefined) opened.push(pair.b)
    }, 30_000)

    it.skipIf(!backend.shared)(
      `${kind} by another cache on the same storage: the running call's result is not stored`,
      async () => {
        expect(await race(backend.make(), 'b', kind)).toEqual([])
      },
      30_000,
    )
  }
})

/** Backends for the lock and refresh races (fewer: each run of a refresh race waits for staleness). */
const extraBackends = backends.filter((backend) => !/cluster|ferretdb/.test(backend.name))

describe.each(extraBackends)(
  'a lock-path miss or a grace refresh overlapping an eviction, $name',
  (backend) => {
    for (const path of ['lock', 'refresh'] as const) {
      it(`${path}: evictByScope by the same cache, the running computation's result is not stored`, async () => {
        const pair = backend.make()
        if (pair.b !== undefined) opened.push(pair.b)
        expect(await race({ a: pair.a, b: undefined }, 'a', 'evictByScope', path, 30)).toEqual([])
      }, 30_000)

      it.skipIf(!backend.shared)(
        `${path}: evictByScope by another cache, the running computation's result is not stored`,
        async () => {
          expect(await race(backend.make(), 'b', 'evictByScope', path, 30)).toEqual([])
        },
        30_000,
      )
    }
  },
)

describe('fences over a custom provider', () => {
  it('a storage whose fence fails: the result is answered, not stored, and an error event is emitted', async () => {
    const backend = new FencedBackend()
    const storage = new FencedMemory(backend)
    storage.fence = async () => {
      throw new Error('fence unavailable')
    }
    const cache = new Cache({ storage })
    opened.push(cache as never)
    const errors: string[] = []
    cache.on('error', (error, { operation }) => errors.push(`${operation}: ${error.message}`))
    let calls = 0
    const load = cache.cache()(async function fenceFails() {
      return ++calls
    })
    expect(await load()).toBe(1)
    expect(await load()).toBe(2)
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatch(/^fence: .*fence unavailable/)
  })

  it('a storage without fences still stores memoized results', async () => {
    const cache = new Cache({ storage: new FencedMemory(new FencedBackend(), false) })
    opened.push(cache as never)
    let calls = 0
    const load = cache.cache()(async function unfenced() {
      return ++calls
    })
    expect(await load()).toBe(1)
    expect(await load()).toBe(1)
  })
})
