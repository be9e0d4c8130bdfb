/**
 * The wiring of a `Cache`: from its options to the parts its methods use (the storage behind the tiers
 * and the publishing wrapper, the rules, the operation pipeline, bulk operations, the memoizer's host,
 * the argument checks), and the choice of the pipeline's observer from who listens.
 */
import { ConfigurationError } from '../errors.js'
import type { CacheEvents } from '../events.js'
import { GetOrSet } from '../memoize/get-or-set.js'
import type { MemoHost } from '../memoize/host.js'
import { ScopeStatsTracker } from '../observability/scope-stats.js'
import { BulkOperations } from '../operations/bulk.js'
import type { EventSink } from '../operations/observer.js'
import { EventObserver, UNOBSERVED } from '../operations/observer.js'
import { Operations } from '../operations/pipeline.js'
import { registerOperations } from '../operations/registry.js'
import { checkBoundOrders, checkByteBounds } from '../rules/bounds.js'
import { checkBoundFairness, checkLocalFairness } from '../rules/fairness.js'
import { RuleEngine } from '../rules/engine.js'
import { defaultScopeConfig, ScopeConfig } from '../scopes/scope-config.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { StorageProvider } from '../storage/contract.js'
import { encodeEntryRef, encodeScopePath } from '../storage/key-encoding.js'
import { InMemory } from '../storage/memory/in-memory.js'
import { publishing } from '../tiers/publishing-storage.js'
import type { LocalTierOptions } from '../tiers/tiered-storage.js'
import { TieredStorage } from '../tiers/tiered-storage.js'
import { ttlToMs } from '../ttl.js'
import { FacadeArguments } from './arguments.js'
import type { CacheOptions } from './options.js'

/** What a `Cache`'s methods run on, made once by {@link wireCache}. */
export interface CacheParts<SC, St> {
  /** The scope hierarchy: the option, or the default organization > user > session. */
  readonly scopes: SC
  /** The storage: the option, or a new `InMemory()`. */
  readonly storage: St
  /** Every read, write and eviction runs through it (the memoizer's too). */
  readonly ops: Operations
  /** Bulk operations and inspection, over the same pipeline. */
  readonly bulk: BulkOperations
  /** What the memoizer and `getOrSet` run on. */
  readonly host: MemoHost
  /** `getOrSet` and `getOrSetSync`. */
  readonly loader: GetOrSet
  /** The argument checks of the facade's methods. */
  readonly args: FacadeArguments
  /** The per-scope statistics, when the `stats` option asks for them. */
  readonly tracker: ScopeStatsTracker | undefined
  /** Keeps the pipeline's observer in step with the listeners; call `update()` after every `on`/`off`. */
  readonly observation: Observation
}

/**
 * Checks `options` and builds the parts of the cache `owner`, whose events go to `sink`. Every
 * `ConfigurationError` is thrown before the storage is attached (nothing to release then).
 */
export function wireCache<SC extends ScopeConfig<readonly ScopeLevelShape[]>, St extends StorageProvider>(
  owner: object,
  options: CacheOptions<SC, St>,
  sink: EventSink,
): CacheParts<SC, St> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('new Cache(options) expects an options object or nothing')
  }
  const scopes = options.scopes ?? (defaultScopeConfig() as unknown as SC)
  if (!(scopes instanceof ScopeConfig)) {
    throw new ConfigurationError(
      'the scopes option must be a ScopeConfig, e.g. new ScopeConfig([new ScopeLevel(...)])',
    )
  }
  const storage = options.storage ?? (new InMemory() as unknown as St)
  const provider: Partial<StorageProvider> | null = storage
  if (
    provider === null ||
    typeof provider !== 'object' ||
    typeof provider.get !== 'function' ||
    typeof provider.attach !== 'function'
  ) {
    throw new ConfigurationError(
      'the storage option must implement StorageProvider (InMemory, RedisStorage, MongoDBStorage, ...)',
    )
  }
  checkLocalFairness(
    options.local,
    scopes.names.filter((n) => n !== 'global'),
  )
  const tiered: TieredStorage | undefined =
    options.local === undefined ? undefined : tiers(storage, options.local, sink, (): Operations => ops)
  // Without a local tier, changes are still announced on the storage's bus (other processes' L1s).
  const store: StorageProvider = tiered ?? publishing(storage, (error) => ops.report('publish', error))
  const levels = scopes.names.filter((n) => n !== 'global')
  const rules = new RuleEngine(
    options.rules ?? [],
    (name) => name !== 'global' && scopes.has(name),
    levels,
    (error) => ops.report('rule', error),
  )
  if (rules.bounds.length !== 0 && !storage.supportsBounds) {
    throw new ConfigurationError(
      `the ${storage.storageType} storage does not enforce bounds, so LRUEvict/MaxItemsEvict cannot be used with it`,
    )
  }
  checkBoundOrders(rules.bounds, storage)
  checkByteBounds(rules.bounds, storage)
  checkBoundFairness(rules.bounds, storage)
  const defaultTtlMs =
    options.defaultTtlSeconds === undefined
      ? undefined
      : ttlToMs(options.defaultTtlSeconds, 'defaultTtlSeconds', 'configuration')
  const tracker = options.stats === undefined ? undefined : new ScopeStatsTracker(options.stats, levels)
  const ops: Operations = new Operations({
    store,
    local: tiered,
    rules,
    events: sink,
    storageType: storage.storageType,
  })
  registerOperations(owner, ops)
  const bulk = new BulkOperations(ops)
  const observation = new Observation(ops, sink, tracker)
  // Before attaching: a local tier reads at attach time whether evicted entries must be identified.
  observation.update()
  store.attach({
    bounds: rules.bounds,
    sweepIntervalMs: rules.sweepIntervalMs,
    get wantsEvictedRefs() {
      return rules.listensToEvictions || observation.wantsRefs
    },
    onEvicted: (reason, count, ref) => ops.onEvicted(reason, count, ref),
  })
  const host: MemoHost = { ops, scopes, defaultTtlMs, locks: storage.locks, namespaces: new Set() }
  const args = new FacadeArguments(ops, scopes, storage.storageType, defaultTtlMs, tracker)
  return { scopes, storage, ops, bulk, host, loader: new GetOrSet(host), args, tracker, observation }
}

/**
 * Swaps the pipeline's observer: the no-op one while nothing observes operations (no listener of an
 * entry or operation event, no tracker), so that the hot paths do no observation work.
 */
export class Observation {
  readonly #ops: Operations
  readonly #sink: EventSink
  readonly #tracker: ScopeStatsTracker | undefined
  /** Whether evicted entries must be identified (evict/expire listeners or the tracker). */
  wantsRefs = false

  constructor(ops: Operations, sink: EventSink, tracker: ScopeStatsTracker | undefined) {
    this.#ops = ops
    this.#sink = sink
    this.#tracker = tracker
  }

  /** Chooses the observer again from the current listeners. */
  update(): void {
    const listened = (event: keyof CacheEvents) => this.#sink.listenerCount(event) !== 0
    const timing = listened('operation')
    this.wantsRefs = this.#tracker !== undefined || listened('evict') || listened('expire')
    const observed = this.wantsRefs || timing || listened('hit') || listened('miss') || listened('set')
    this.#ops.observer = observed ? new EventObserver(this.#sink, this.#tracker, timing) : UNOBSERVED
  }
}

/**
 * The two tiers in front of the storage; their events become the cache's. Another process's
 * invalidation also detaches this process's running computations of what it names (they answer the
 * callers already waiting, store nothing, and no later call joins them), before the event is
 * emitted: once a process has heard of an eviction, none of its calls gets a value computed before it.
 * A reset (messages may have been lost) detaches every running computation.
 */
function tiers(
  storage: StorageProvider,
  local: LocalTierOptions,
  sink: EventSink,
  ops: () => Operations,
): TieredStorage {
  return new TieredStorage(storage, local, {
    busMessage: (info) => {
      const invalidation = info.invalidation
      const flights = ops().flights
      if (invalidation.kind === 'scope') flights.invalidate(encodeScopePath(invalidation.path))
      else for (const ref of invalidation.refs) flights.invalidate(encodeEntryRef(ref))
      sink.emit('busMessage', info)
    },
    busReset: (info) => {
      ops().flights.invalidate('')
      sink.emit('busReset', info)
    },
    circuitOpen: (info) => sink.emit('circuitOpen', info),
    circuitClose: (info) => sink.emit('circuitClose', info),
    error: (operation, error) => ops().report(operation, error),
  })
}
