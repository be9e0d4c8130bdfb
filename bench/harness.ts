/**
 * A small measuring harness for the benchmark suites.
 *
 * Method: every case is a function that performs `ops` operations in its own loop (so the library call
 * is not hidden behind one shared, megamorphic call site). A case is warmed up, its op count is
 * calibrated once so that one round takes about `targetRoundMs`, and then the cases of one group are
 * timed round-robin, each round starting one case later (A B C, B C A, C A B, ...), so that drift in
 * CPU frequency or GC pressure hits every case alike. Before each round, garbage is collected (so a
 * case never pays for the previous one's) and the case runs a quarter of a round untimed (so it starts
 * warm again after that collection). The reported figure is the median over the rounds, with the
 * spread (min and max round) beside it.
 * Ratios between two cases are the median of their per-round ratios (see {@link pairedRatio}).
 * The harness reports; it never asserts.
 */

/** One benchmark case: runs `ops` operations and returns something so the work is not optimised away. */
export interface Case {
  /** The label printed in the table, e.g. `lru-cache get`. */
  readonly name: string
  /** Performs exactly `ops` operations. May be async; it is awaited. */
  readonly run: (ops: number) => unknown
  /** Runs once before warm-up (e.g. prefill); not timed. */
  readonly setup?: () => void | Promise<void>
  /** Returns extra columns after the timed rounds (e.g. a hit ratio). */
  readonly extra?: () => Record<string, string>
}

/** The measured result of one case. */
export interface Measurement {
  readonly name: string
  /** Operations per timed round (fixed after calibration). */
  readonly ops: number
  readonly rounds: number
  /** Median operations per second over the rounds. */
  readonly opsPerSec: number
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number
  /** Slowest and fastest round, in ops/s. */
  readonly minOpsPerSec: number
  readonly maxOpsPerSec: number
  /** ops/s of each round, in round order (round r of every case of a group ran back to back). */
  readonly samples: readonly number[]
  /**
   * Median CPU time of this process per operation (user + system, µs), over the rounds: the library's
   * own work, without the time spent waiting for a server.
   */
  readonly cpuUsPerOp: number
  readonly extra: Record<string, string>
}

/** How a group of cases is measured. */
export interface MeasureOptions {
  /** Timed rounds per case (default 11). */
  readonly rounds?: number
  /** Wanted duration of one round, used to calibrate the op count (default 60 ms). */
  readonly targetRoundMs?: number
  /** Smallest and largest op count per round (defaults 1 024 and 4 194 304). */
  readonly minOps?: number
  readonly maxOps?: number
}

/** Anything a case returned, kept reachable so that the JIT cannot drop the work. */
export let blackhole: unknown

/** Collects garbage if the process runs with `--expose-gc`; a no-op otherwise. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    gc()
  }
}

/** Whether `global.gc` is available. */
export function hasGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function'
}

async function timeOnce(c: Case, ops: number): Promise<number> {
  const start = process.hrtime.bigint()
  const result = c.run(ops)
  blackhole = result instanceof Promise ? await result : result
  return Number(process.hrtime.bigint() - start)
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Rounds `n` up to a power of two, so that loops can index key arrays with a mask. */
function powerOfTwoAtLeast(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}

/**
 * Timed rounds per case when a suite does not choose: 11, or `CACHEADO_BENCH_ROUNDS` (more rounds for a
 * loaded machine).
 */
const DEFAULT_ROUNDS = Number(process.env.CACHEADO_BENCH_ROUNDS ?? '') || 11

/**
 * `CACHEADO_BENCH_CLOCK=cpu`: a round's rate is its operations per second of this process's CPU time
 * instead of wall time. On a machine shared with other work, wall time mostly measures how long the
 * process waited for a core; CPU time leaves that out (for in-process suites, where nothing waits on I/O).
 */
const CPU_CLOCK = process.env.CACHEADO_BENCH_CLOCK === 'cpu'

/**
 * Warms up and calibrates each case, then times all of them round-robin. Op counts are powers of two.
 */
export async function measure(cases: readonly Case[], options: MeasureOptions = {}): Promise<Measurement[]> {
  const rounds = options.rounds ?? DEFAULT_ROUNDS
  const targetNs = (options.targetRoundMs ?? 60) * 1e6
  const minOps = options.minOps ?? 1024
  const maxOps = options.maxOps ?? 4_194_304

  const opsOf = new Map<Case, number>()
  for (const c of cases) {
    await c.setup?.()
    // Warm-up: grow the op count until a run takes a tenth of a round, then one more full run.
    let ops = minOps
    let ns = await timeOnce(c, ops)
    while (ns < targetNs / 10 && ops < maxOps) {
      ops *= 4
      ns = await timeOnce(c, ops)
    }
    const perOp = ns / ops
    const calibrated = Math.min(maxOps, Math.max(minOps, powerOfTwoAtLeast(targetNs / perOp)))
    await timeOnce(c, calibrated)
    opsOf.set(c, calibrated)
  }

  const samples = new Map<Case, number[]>(cases.map((c) => [c, []]))
  const cpuSamples = new Map<Case, number[]>(cases.map((c) => [c, []]))
  for (let r = 0; r < rounds; r++) {
    // Each round starts one case later than the previous one, so no case always runs first (right
    // after the set-up) or always after the same neighbour.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(r + k) % cases.length]!
      collectGarbage()
      const ops = opsOf.get(c)!
      // A short untimed run after the collection: a full GC shrinks the young generation and resets
      // what the JIT learned about code that did not run since the last rounds (every other case ran
      // meanwhile), so the first operations of a round would pay for a cold start that a running
      // application never sees, and more so for a library whose code no other row shares.
      await timeOnce(c, Math.max(16, ops >> 2))
      const cpuBefore = process.cpuUsage()
      const ns = await timeOnce(c, ops)
      const cpu = process.cpuUsage(cpuBefore)
      const cpuUs = cpu.user + cpu.system
      samples.get(c)!.push(CPU_CLOCK && cpuUs > 0 ? (ops * 1e6) / cpuUs : (ops * 1e9) / ns)
      cpuSamples.get(c)!.push(cpuUs / ops)
    }
  }

  return cases.map((c) => {
    const rates = samples.get(c)!
    const opsPerSec = median(rates)
    return {
      name: c.name,
      ops: opsOf.get(c)!,
      rounds,
      opsPerSec,
      nsPerOp: 1e9 / opsPerSec,
      minOpsPerSec: Math.min(...rates),
      maxOpsPerSec: Math.max(...rates),
      samples: rates,
      cpuUsPerOp: median(cpuSamples.get(c)!),
      extra: c.extra?.() ?? {},
    }
  })
}

/**
 * How much faster `a` is than `b`: the median over rounds of `a`'s ops/s divided by `b`'s in the same
 * round. Pairing rounds that ran back to back cancels most of the noise of a shared machine.
 */
export function pairedRatio(a: Measurement, b: Measurement): number {
  const n = Math.min(a.samples.length, b.samples.length)
  const ratios: number[] = []
  for (let r = 0; r < n; r++) ratios.push(a.samples[r]! / b.samples[r]!)
  return median(ratios)
}

/** Median of a list of numbers (exported for suites that time single operations). */
export function medianOf(values: readonly number[]): number {
  return median(values)
}

/** The `p`-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Formats an ops/s figure with thousands separators. */
export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M`
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)} k`
  return opsPerSec.toFixed(0)
}

/** Formats nanoseconds per op. */
export function formatNs(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toFixed(1)
}

/** Formats a ratio such as `3.42x`. */
export function formatRatio(ratio: number): string {
  return ratio >= 10 ? `${ratio.toFixed(1)}x` : `${ratio.toFixed(2)}x`
}

/** How many operations the "in flight" cases of the server suites keep running at once. */
export const IN_FLIGHT = 100

/** Runs `run(i)` for i in 0..ops-1 with {@link IN_FLIGHT} operations in flight at a time. */
export async function pool(ops: number, run: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < ops) await run(next++)
  }
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, ops) }, worker))
}

/** A case doing `op(i)` for i in 0..ops-1, one at a time or {@link IN_FLIGHT} at a time. */
export function opCase(
  name: string,
  inFlight: boolean,
  op: (i: number) => Promise<unknown>,
  setup?: () => Promise<void>,
): Case {
  return {
    name,
    ...(setup === undefined ? {} : { setup }),
    run: inFlight
      ? (ops) => pool(ops, op)
      : async (ops) => {
          for (let i = 0; i < ops; i++) await op(i)
        },
  }
}
