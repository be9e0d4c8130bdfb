// Model-based test of what an eviction guarantees across processes and tiers (issue 11, "Done
// means"). fast-check drives random sequences of set / get / evict / evictByScope / clear and memoized
// calls against TWO real Node processes (test/model/fixtures/peer.ts), each with a local tier
// (`local: {...}`) over the same Redis prefix, plus evictions by the operator CLI's admin, the memoized functions resolving after random delays so
// that their flights overlap the evictions. After each step it checks that nothing evicted is read back.
//
// THE GUARANTEE CHECKED (what the README promises):
//   Let E be an eviction (`evict(key)`, `evictByScope(scope)` or `clear()`) made in process P, issued
//   at time I(E) and resolved at time R(E). E is *visible* in P from R(E), and in the other process Q
//   (in both, for an eviction by the CLI, which has no local tier) from the moment Q has received E's
//   bus message (observed through Q's `busMessage` event; the test
//   waits for it, up to 2 s, after R(E), and a message that does not come is itself a violation).
//   Then any read of an entry E covers (a `get`, or a memoized call, which returns a stored result or
//   joins a running computation), *issued* in a process after E is visible there, never returns a
//   value that was written, or whose computation started, before I(E).
//   Values written or computed while E runs (between I(E) and R(E)) may or may not survive it. Every
//   value carries its birth time: a `set`'s is when the test issued it, a memoized result's is when
//   its function started (in the peer process, on the same machine clock; the test measures each
//   peer's clock offset at start and only flags a birth that is before I(E) by more than the
//   measurement's uncertainty plus 1 ms).
//
// Replay: MODEL_SEED=<seed> (printed at the start and by fast-check on failure), MODEL_PATH=<path>
// (fast-check's counterexample path), MODEL_RUNS=<n>; MODEL_SHRINK=1 shrinks a counterexample (slow:
// each try runs against the real processes, and races do not always reproduce).
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'
import { Peer } from './fixtures/peers.js'
import type { PeerTarget } from './fixtures/peers.js'
import type { StorageAdmin } from '../../src/storage/admin.js'
import { openRedisAdmin } from '../../src/storage/redis/admin.js'

/** The machine's clock in fractional ms, as the peers' `born` (comparable across processes). */
const now = () => performance.timeOrigin + performance.now()

/** How long a bus message may take to reach the other process. */
const DELIVERY_MS = 2000

const ORGS = ['a', 'b'] as const
const KEYS = ['k1', 'k2'] as const
const ARGS = ['x', 'y'] as const
const DELAYS = [0, 2, 10, 30, 80, 200] as const

type Org = (typeof ORGS)[number]
/** An entry: a plain key or a memoized call's result, in an organization's scope. */
type Entry = { kind: 'kv'; org: Org; key: string } | { kind: 'memo'; org: Org; arg: string }

interface Eviction {
  readonly label: string
  readonly issuedAt: number
  /** When the eviction became visible in each process (`Infinity`: not yet). */
  readonly visibleAt: [number, number]
  covers(entry: Entry): boolean
}

/** A stored value: a unique token and when it was written or its computation started. */
interface Born {
  readonly t: string
  readonly born: number
}

/** The state of one run: the two processes, the evictions so far, what was found. */
class World {
  readonly evictions: Eviction[] = []
  readonly pending: Promise<void>[] = []
  readonly violations: string[] = []
  readonly log: string[] = []
  #tokens = 0

  constructor(
    readonly peers: readonly [Peer, Peer],
    readonly run: string,
    /** Each peer's clock offset from ours and its uncertainty (see `Peer.clockOffset`). */
    readonly clocks: readonly { offset: number; error: number }[],
    /** The operator CLI's view of the same prefix. */
    readonly admin: StorageAdmin,
  ) {}

  /** The organization id of this run (runs share the processes, not the data). */
  org(org: Org): string {
    return `${this.run}-${org}`
  }

  token(): string {
    return `${this.run}#${this.#tokens++}`
  }

  /**
   * Checks a value read by process `p` for `entry`, the read having been issued at `issuedAt`. A
   * memoized result's birth (`peer` set: measured by that peer) is moved to our clock, with a margin.
   */
  check(p: number, entry: Entry, issuedAt: number, value: unknown, what: string): void {
    if (value === null || value === undefined) return
    const { t, born: stamped, done, peer } = value as Born & { done?: number; peer?: number }
    const clock = peer === undefined ? { offset: 0, error: 0 } : this.clocks[peer]!
    const born = stamped - clock.offset + (peer === undefined ? 0 : clock.error + 1)
    // A memoized result whose computation was still running when the read was issued: it was joined.
    const how =
      done !== undefined && done - clock.offset > issuedAt
        ? `joined a computation of process ${peer} still running`
        : `read a stored copy`
    for (const e of this.evictions) {
      if (e.visibleAt[p]! <= issuedAt && e.covers(entry) && born < e.issuedAt) {
        this.violations.push(
          `${what} in process ${p} returned ${t} (${how}), born ${(e.issuedAt - born).toFixed(1)} ms before "${e.label}" was issued, which was visible there ${(issuedAt - e.visibleAt[p]!).toFixed(1)} ms before the read`,
        )
      }
    }
  }

  /**
   * Records an eviction made by process `p` (or by the operator CLI's admin when `p` is `'cli'`) and
   * waits until the other process (both, for the CLI) received its bus message.
   */
  async evict(
    p: number | 'cli',
    label: string,
    match: Record<string, unknown>,
    covers: (entry: Entry) => boolean,
    call: () => Promise<unknown>,
  ): Promise<void> {
    const others = p === 'cli' ? [0, 1] : [1 - p]
    const before = await Promise.all(others.map((o) => this.peers[o]!.messages()))
    const eviction: Eviction = { label, issuedAt: now(), visibleAt: [Infinity, Infinity], covers }
    this.evictions.push(eviction)
    await call()
    if (p !== 'cli') eviction.visibleAt[p] = now()
    await Promise.all(
      others.map(async (o, i) => {
        try {
          await this.peers[o]!.send({ op: 'waitMessage', after: before[i], match, ms: DELIVERY_MS })
          eviction.visibleAt[o] = now()
        } catch (error) {
          this.violations.push(`"${label}" never reached process ${o}: ${(error as Error).message}`)
        }
      }),
    )
  }

  /** Waits for the memoized calls still running; their results are checked as they come. */
  async settle(): Promise<void> {
    await Promise.all(this.pending.splice(0))
  }
}

type Cmd = fc.AsyncCommand<object, World>

const label = (p: number, text: string) => `P${p}.${text}`

class Set_ implements Cmd {
  constructor(
    readonly p: number,
    readonly org: Org,
    readonly key: string,
  ) {}
  check = () => true
  async run(_: object, w: World): Promise<void> {
    const value: Born = { t: w.token(), born: now() }
    const other = w.peers[1 - this.p]!
    const before = await other.messages()
    await w.peers[this.p]!.send({ op: 'set', org: w.org(this.org), key: this.key, value })
    // The write's own invalidation reaches the other process before the next step, so that the
    // message of a later evict(key) is not confused with it.
    const ref = { scope: [{ level: 'organization', id: w.org(this.org) }], key: this.key }
    await other.send({ op: 'waitMessage', after: before, match: { kind: 'entries', ref }, ms: DELIVERY_MS })
  }
  toString = () => label(this.p, `set(${this.org},${this.key})`)
}

class Get implements Cmd {
  constructor(
    readonly p: number,
    readonly org: Org,
    readonly key: string,
  ) {}
  check = () => true
  async run(_: object, w: World): Promise<void> {
    const issuedAt = now()
    const value = await w.peers[this.p]!.get(w.org(this.org), this.key)
    w.check(this.p, { kind: 'kv', org: this.org, key: this.key }, issuedAt, value, this.toString())
  }
  toString = () => label(this.p, `get(${this.org},${this.key})`)
}

/** A memoized call, not awaited: its computation runs while the next steps (evictions) run. */
class Memo implements Cmd {
  constructor(
    readonly p: number,
    readonly org: Org,
    readonly arg: string,
    readonly delayMs: number,
  ) {}
  check = () => true
  async run(_: object, w: World): Promise<void> {
    const issuedAt = now()
    const call = w.peers[this.p]!.send<{ value: unknown }>({
      op: 'memo',
      org: w.org(this.org),
      arg: this.arg,
      value: w.token(),
      delayMs: this.delayMs,
    })
    w.pending.push(
      call.then(
        ({ value }) =>
          w.check(this.p, { kind: 'memo', org: this.org, arg: this.arg }, issuedAt, value, this.toString()),
        (error: unknown) => void w.violations.push(`${this.toString()} failed: ${String(error)}`),
      ),
    )
    // Let the call reach the peer and start before the next step.
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  toString = () => label(this.p, `memo(${this.org},${this.arg}) ~${this.delayMs}ms`)
}

class Evict implements Cmd {
  constructor(
    readonly p: number,
    readonly org: Org,
    readonly key: string,
  ) {}
  check = () => true
  run(_: object, w: World): Promise<void> {
    const ref = { scope: [{ level: 'organization', id: w.org(this.org) }], key: this.key }
    return w.evict(
      this.p,
      this.toString(),
      { kind: 'entries', ref },
      (e) => e.kind === 'kv' && e.org === this.org && e.key === this.key,
      () => w.peers[this.p]!.send({ op: 'evict', org: w.org(this.org), key: this.key }),
    )
  }
  toString = () => label(this.p, `evict(${this.org},${this.key})`)
}

class EvictScope implements Cmd {
  constructor(
    readonly p: number,
    readonly org: Org,
  ) {}
  check = () => true
  run(_: object, w: World): Promise<void> {
    const path = [{ level: 'organization', id: w.org(this.org) }]
    return w.evict(
      this.p,
      this.toString(),
      { kind: 'scope', path },
      (e) => e.org === this.org,
      () => w.peers[this.p]!.send({ op: 'evictByScope', org: w.org(this.org) }),
    )
  }
  toString = () => label(this.p, `evictByScope(${this.org})`)
}

class Clear implements Cmd {
  constructor(readonly p: number) {}
  check = () => true
  run(_: object, w: World): Promise<void> {
    return w.evict(
      this.p,
      this.toString(),
      { kind: 'scope', path: [] },
      () => true,
      () => w.peers[this.p]!.send({ op: 'clear' }),
    )
  }
  toString = () => label(this.p, 'clear()')
}

/**
 * `cacheado evict organization=<org>` (or `global`), made with the CLI's own admin (`RedisAdmin`, in
 * this process: the subprocess would only add its start-up time): a third party, with no local tier,
 * whose evictions must hold in both processes too.
 */
class CliEvict implements Cmd {
  constructor(readonly org: Org | undefined) {}
  check = () => true
  run(_: object, w: World): Promise<void> {
    const path = this.org === undefined ? [] : [{ level: 'organization', id: w.org(this.org) }]
    return w.evict(
      'cli',
      this.toString(),
      { kind: 'scope', path },
      (e) => this.org === undefined || e.org === this.org,
      () => w.admin.evict(path, () => undefined),
    )
  }
  toString = () => `cli.evict(${this.org ?? 'global'})`
}

/** Waits for the running memoized calls (a quiet point in the sequence). */
class Settle implements Cmd {
  check = () => true
  run(_: object, w: World): Promise<void> {
    return w.settle()
  }
  toString = () => 'settle'
}

const proc = fc.constantFrom(0, 1)
const org = fc.constantFrom(...ORGS)
const key = fc.constantFrom(...KEYS)
const commands = fc.commands(
  [
    fc.tuple(proc, org, key).map(([p, o, k]) => new Set_(p, o, k)),
    fc.tuple(proc, org, key).map(([p, o, k]) => new Get(p, o, k)),
    fc
      .tuple(proc, org, fc.constantFrom(...ARGS), fc.constantFrom(...DELAYS))
      .map(([p, o, a, d]) => new Memo(p, o, a, d)),
    fc
      .tuple(proc, org, fc.constantFrom(...ARGS), fc.constantFrom(...DELAYS))
      .map(([p, o, a, d]) => new Memo(p, o, a, d)),
    fc.tuple(proc, org, key).map(([p, o, k]) => new Evict(p, o, k)),
    fc.tuple(proc, org).map(([p, o]) => new EvictScope(p, o)),
    proc.map((p) => new Clear(p)),
    fc.option(org, { nil: undefined, freq: 3 }).map((o) => new CliEvict(o)),
    fc.constant(new Settle()),
  ],
  { maxCommands: 30 },
)

/** After a sequence: every entry read in both processes once the memoized calls are done. */
async function finalReads(w: World): Promise<void> {
  await w.settle()
  // One more round of delivery, so that the last results' own messages have arrived.
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (const p of [0, 1]) {
    for (const o of ORGS) {
      for (const k of KEYS) await new Get(p, o, k).run({}, w)
      for (const a of ARGS) await new Memo(p, o, a, 0).run({}, w)
    }
  }
  await w.settle()
}

const targets: { name: string; available: boolean; target: () => PeerTarget; runs: number }[] = [
  {
    name: 'Redis',
    available: redisUrl !== undefined,
    target: () => ({ url: redisUrl, prefix: uniqueName('model') }),
    runs: 150,
  },
  {
    name: 'Redis Cluster',
    available: redisClusterNodes !== undefined,
    target: () => ({ cluster: redisClusterNodes, prefix: uniqueName('model') }),
    runs: 80,
  },
]

describe.each(targets)('eviction model: two processes with local tiers on $name', (t) => {
  let peers: [Peer, Peer] | undefined
  let clocks: { offset: number; error: number }[] = []
  let admin: StorageAdmin | undefined
  beforeAll(async () => {
    if (!t.available) return
    const target = t.target()
    const node = target.cluster?.[0]
    admin = await openRedisAdmin({
      url: node ? `redis://${node.host}:${node.port}` : target.url!,
      prefix: target.prefix,
      timeoutMs: 3000,
    })
    peers = [new Peer(target, { PEER_INDEX: '0' }), new Peer(target, { PEER_INDEX: '1' })]
    await Promise.all(peers.map((peer) => peer.ready))
    clocks = [await peers[0].clockOffset(now), await peers[1].clockOffset(now)]
  }, 30_000)
  afterAll(async () => {
    await admin?.close()
    if (!peers) return
    const unhandled = await Promise.all(peers.map((peer) => peer.close().catch(() => ['close failed'])))
    for (const peer of peers) peer.kill()
    expect(unhandled.flat()).toEqual([])
  })

  it.skipIf(!t.available)(
    'nothing evicted is ever read back, in either process',
    async () => {
      const seed = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31))
      const runs = Number(process.env.MODEL_RUNS ?? t.runs)
      const skew = clocks.map((c) => `${c.offset.toFixed(2)}±${c.error.toFixed(2)} ms`).join(', ')
      console.log(
        `eviction model on ${t.name}: seed ${seed}, ${runs} runs (replay: MODEL_SEED=${seed}); peer clocks ${skew}`,
      )
      let run = 0
      const property = fc.asyncProperty(commands, async (cmds) => {
        const world = new World(peers!, `r${run++}`, clocks, admin!)
        await fc.asyncModelRun(() => ({ model: {}, real: world }), cmds)
        await finalReads(world)
        if (world.violations.length !== 0) {
          throw new Error(`${world.violations.length} violation(s):\n  ${world.violations.join('\n  ')}`)
        }
      })
      await fc.assert(property, {
        seed,
        numRuns: runs,
        endOnFailure: process.env.MODEL_SHRINK !== '1',
        ...(process.env.MODEL_PATH ? { path: process.env.MODEL_PATH } : {}),
      })
    },
    120_000,
  )
})
