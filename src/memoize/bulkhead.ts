import { ConfigurationError, InvalidArgumentError, OverloadError } from '../errors.js'
import type { ResolvedLevel, ScopeConfig } from '../scopes/scope-config.js'
import type { EntryLocks, LeaseHandle, ScopePath, ScopeSemaphores } from '../storage/contract.js'
import { encodeEntryRef } from '../storage/key-encoding.js'
import type { OptionSource } from './write-options.js'

/**
 * The `maxConcurrent` option: a bulkhead on the miss path. At most `limit` factory runs (memoized
 * function calls that missed, `getOrSet` factories) at once per instance of the scope level `per`
 * (each organization, each user, ...; `'global'`: one bulkhead for all). Calls of one key still share
 * one run (single flight first, then the bulkhead).
 */
export interface MaxConcurrent {
  /** The scope level whose instances (tenants) each get `limit` slots, or `'global'`. */
  readonly per: string
  /** Factory runs at once per tenant (a positive integer). */
  readonly limit: number
  /**
   * Callers naming the same group share its slots. Default: the memoized function's namespace (each
   * memoized function has its own bulkhead); `'getOrSet'` for `cache.getOrSet` calls.
   */
  readonly group?: string
}

/** A `maxConcurrent` option, validated. */
export interface BulkheadPlan {
  /** The level name (`'global'` included). */
  readonly per: string
  readonly limit: number
  readonly group: string
  /** How long a miss waits for a slot (the call's `hardTimeoutMs`; 0: reject at once). */
  readonly waitMs: number
  /** Position of `per` in the scope path of the memoizer's level (-1: global); undefined: find per call. */
  readonly depth: number | undefined
  /** Cross-process slots (with `lock`), and the lease TTL. */
  readonly shared: { readonly semaphores: ScopeSemaphores; readonly ttlMs: number } | undefined
}

const fail = (source: OptionSource, message: string): Error =>
  source === 'configuration' ? new ConfigurationError(message) : new InvalidArgumentError(message)

/**
 * Validates `maxConcurrent`. `level`: the memoizer's scope level (`per` must be it, an ancestor of it,
 * or `'global'`); undefined for `getOrSet`, whose scope is per call. `lock`: the resolved `lock` option
 * (cross-process slots need the storage's {@link ScopeSemaphores}).
 */
export function resolveMaxConcurrent(
  option: unknown,
  scopes: ScopeConfig,
  level: ResolvedLevel | undefined,
  defaultGroup: string,
  waitMs: number | undefined,
  lock: { readonly locks: EntryLocks; readonly ttlMs: number } | undefined,
  storageType: string,
  source: OptionSource,
): BulkheadPlan {
  const example = "e.g. maxConcurrent: { per: 'organization', limit: 4 }"
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw fail(source, `maxConcurrent must be an object { per, limit }, ${example}`)
  }
  const { per, limit, group } = option as Partial<MaxConcurrent>
  if (typeof per !== 'string' || !scopes.has(per)) {
    throw fail(
      source,
      `maxConcurrent.per must name a scope level (one of ${scopes.names.join(', ')}), got ${JSON.stringify(per) ?? 'undefined'}; ${example}`,
    )
  }
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw fail(
      source,
      `maxConcurrent.limit must be a positive integer, got ${typeof limit === 'number' ? String(limit) : typeof limit}; ${example}`,
    )
  }
  if (group !== undefined && (typeof group !== 'string' || group === '')) {
    throw fail(source, 'maxConcurrent.group must be a non-empty string, e.g. { group: "reports" }')
  }
  let depth: number | undefined
  if (level !== undefined) {
    depth = per === 'global' ? -1 : level.path.findIndex((step) => step.name === per)
    if (depth === -1 && per !== 'global') {
      throw fail(
        source,
        `maxConcurrent.per is '${per}', which is not the memoizer's scope '${level.name}' nor one of its ancestors (${['global', ...level.path.map((step) => step.name)].join(', ')}); a call has no ${per} to count against`,
      )
    }
  }
  let shared: BulkheadPlan['shared']
  if (lock !== undefined) {
    const semaphores = lock.locks.semaphores
    if (semaphores === undefined) {
      throw fail(
        source,
        `maxConcurrent with lock needs cross-process semaphores, which the ${storageType} storage does not offer (RedisStorage and MongoDBStorage do); remove lock to hold the limit per process, or use a storage with semaphores`,
      )
    }
    shared = { semaphores, ttlMs: lock.ttlMs }
  }
  return { per, limit, group: group ?? defaultGroup, waitMs: waitMs ?? 0, depth, shared }
}

/**
 * What a waiting flight tells the callers' `hardTimeoutMs` timers: while `overload` is set, the flight
 * is waiting for a slot, and a caller whose timer fires gets that error instead of a `TimeoutError`.
 */
export interface SlotWait {
  overload: ((waitedMs: number) => OverloadError) | undefined
}

/** Flights (their promises) waiting for a slot, for `withDeadline`. */
const waits = new WeakMap<Promise<unknown>, SlotWait>()

/** Records that `flight` reports its slot waits through `wait`. */
export function trackWait(flight: Promise<unknown>, wait: SlotWait): void {
  waits.set(flight, wait)
}

/** The error a caller of `flight` gets when its `hardTimeoutMs` passes: `OverloadError` while waiting for a slot. */
export function overloadOf(flight: Promise<unknown>, waitedMs: number): OverloadError | undefined {
  return waits.get(flight)?.overload?.(waitedMs)
}

/** A held slot; `release` frees it (once; later calls do nothing). */
export interface Slot {
  release(): void
}

/** A caller waiting for one tenant's slot. */
interface Waiter {
  readonly grant: () => void
}

/** One tenant's slots in this process. */
interface Tenant {
  running: number
  readonly waiters: Waiter[]
}

/** Longest pause between two tries of a cross-process slot, in ms. */
const MAX_POLL_PAUSE_MS = 50
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * The bulkheads of one cache: slots per `(group, tenant)`, counted in this process (FIFO waiters, a
 * freed slot goes to the longest waiter), and with `lock` also as leases of the storage's
 * {@link ScopeSemaphores} so the limit holds across processes. A cross-process slot is taken after a
 * local one, so a process polls the storage with at most `limit` callers per tenant. A storage that
 * fails to grant or release a lease is reported and the run proceeds on its local slot (fail-open to
 * the per-process limit); a held lease is renewed every third of its TTL, and lapses after it if its
 * holder died.
 */
export class Bulkheads {
  readonly #tenants = new Map<string, Tenant>()
  readonly #report: (operation: string, error: unknown) => void

  constructor(report: (operation: string, error: unknown) => void) {
    this.#report = report
  }

  /**
   * The tenant path of `scope` for `plan`; an `InvalidArgumentError` when the scope has no instance of
   * `plan.per` (a `getOrSet` call in a scope above it).
   */
  tenantOf(plan: BulkheadPlan, scope: ScopePath, namespace: string): ScopePath {
    let depth = plan.depth
    if (depth === undefined) {
      depth = plan.per === 'global' ? -1 : scope.findIndex((step) => step.level === plan.per)
      if (depth === -1 && plan.per !== 'global') {
        throw new InvalidArgumentError(
          `${namespace}: maxConcurrent.per is '${plan.per}' but this call's scope (${scope.map((s) => s.level).join(' > ') || 'global'}) has no ${plan.per}; call it in a ${plan.per} scope or choose a level of its path`,
        )
      }
    }
    return depth === -1 ? [] : scope.slice(0, depth + 1)
  }

  /**
   * Takes a slot of `tenant` (waits up to `plan.waitMs` unless `background`). Resolves the slot, or
   * `undefined` for a background run that found no free slot; rejects with an `OverloadError` when a
   * foreground caller got none in time. `wait` is told while it waits.
   */
  async enter(
    plan: BulkheadPlan,
    tenant: ScopePath,
    namespace: string,
    background: boolean,
    wait: SlotWait | undefined,
  ): Promise<Slot | undefined> {
    const started = Date.now()
    const waitMs = background ? 0 : plan.waitMs
    const id = encodeEntryRef({ scope: tenant, key: plan.group })
    const overload = (waitedMs: number) =>
      new OverloadError(namespace, plan.per, tenant.at(-1)?.id, plan.limit, Math.round(waitedMs))
    if (wait !== undefined) wait.overload = overload
    try {
      if (!(await this.#local(id, plan.limit, waitMs))) {
        if (background) return undefined
        throw overload(waitMs)
      }
      const local = this.#slot(id)
      if (plan.shared === undefined) return local
      const left = waitMs - (Date.now() - started)
      let lease: LeaseHandle | undefined
      try {
        lease = await this.#lease(plan, tenant, Math.max(0, left))
      } catch (error) {
        this.#report('bulkhead', error)
        return local
      }
      if (lease === undefined) {
        local.release()
        if (background) return undefined
        throw overload(Date.now() - started)
      }
      return this.#leased(plan, lease, local)
    } finally {
      if (wait !== undefined) wait.overload = undefined
    }
  }

  /** Takes a local slot of `id`, waiting up to `waitMs`; whether it got one. */
  #local(id: string, limit: number, waitMs: number): Promise<boolean> | boolean {
    let tenant = this.#tenants.get(id)
    if (tenant === undefined) this.#tenants.set(id, (tenant = { running: 0, waiters: [] }))
    if (tenant.running < limit && tenant.waiters.length === 0) {
      tenant.running++
      return true
    }
    if (waitMs <= 0) return false
    const queue = tenant.waiters
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer)
          resolve(true)
        },
      }
      const timer = setTimeout(() => {
        const at = queue.indexOf(waiter)
        if (at !== -1) queue.splice(at, 1)
        this.#forget(id)
        resolve(false)
      }, waitMs)
      queue.push(waiter)
    })
  }

  /** A local slot of `id`: its release hands it to the first waiter, or frees it. */
  #slot(id: string): Slot {
    let held = true
    return {
      release: () => {
        if (!held) return
        held = false
        const tenant = this.#tenants.get(id)!
        const next = tenant.waiters.shift()
        if (next !== undefined) next.grant()
        else {
          tenant.running--
          this.#forget(id)
        }
      },
    }
  }

  #forget(id: string): void {
    const tenant = this.#tenants.get(id)
    if (tenant !== undefined && tenant.running === 0 && tenant.waiters.length === 0) this.#tenants.delete(id)
  }

  /** Polls the storage's semaphore (with backoff) until it grants a lease or `waitMs` passed. */
  async #lease(plan: BulkheadPlan, tenant: ScopePath, waitMs: number): Promise<LeaseHandle | undefined> {
    const { semaphores, ttlMs } = plan.shared!
    const until = Date.now() + waitMs
    let pause = 2
    for (;;) {
      const lease = await semaphores.acquire(tenant, plan.group, plan.limit, ttlMs)
      if (lease !== undefined) return lease
      const left = until - Date.now()
      if (left <= 0) return undefined
      await sleep(Math.min(left, pause * (0.5 + Math.random())))
      pause = Math.min(pause * 2, MAX_POLL_PAUSE_MS)
    }
  }

  /** A cross-process slot: renewed while held; its release frees the lease, then the local slot. */
  #leased(plan: BulkheadPlan, lease: LeaseHandle, local: Slot): Slot {
    const { semaphores, ttlMs } = plan.shared!
    const renewal = setInterval(
      () => {
        semaphores.extend(lease, ttlMs).then(
          (held) => {
            if (!held) clearInterval(renewal)
          },
          (error: unknown) => this.#report('bulkhead', error),
        )
      },
      Math.max(1, ttlMs / 3),
    )
    renewal.unref()
    let held = true
    return {
      release: () => {
        if (!held) return
        held = false
        clearInterval(renewal)
        // The local slot is handed on once the lease is gone, so its next holder finds a free lease.
        semaphores.release(lease).then(
          () => local.release(),
          (error: unknown) => {
            this.#report('bulkhead', error)
            local.release()
          },
        )
      },
    }
  }

  /** Tenants with running or waiting calls in this process (for tests). */
  get size(): number {
    return this.#tenants.size
  }
}

/** The bulkheads of each cache (keyed by its memoization host, so no wiring changes). */
const registry = new WeakMap<object, Bulkheads>()

/** The bulkheads of the cache whose memoization host is `host`. */
export function bulkheadsOf(host: object, report: (operation: string, error: unknown) => void): Bulkheads {
  let bulkheads = registry.get(host)
  if (bulkheads === undefined) registry.set(host, (bulkheads = new Bulkheads(report)))
  return bulkheads
}
