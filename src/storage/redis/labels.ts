import type { BusMessage, ScopePath, StorageContext, WriteOptions } from '../contract.js'
import { encodeScopePath, encodeSegment } from '../key-encoding.js'
import { checkTags, MAX_TAGS_PER_ENTRY } from '../tags.js'
import { encodeMessage, registryOf } from './bus.js'
import type { LuaScript, RedisClient } from './connection.js'
import type { RedisEvictions } from './evict.js'
import { GLOBAL_TAG } from './keys.js'
import type { RedisKeys } from './keys.js'
import type { TagRegistry } from './registry.js'
import { INVALIDATE_LABELS, INVALIDATE_LABELS_BROADCAST, INVALIDATE_LABELS_PUBLISH } from './scripts.js'

/**
 * Entry tags on Redis. They are called *labels* inside the Redis storage, because "tag" there already
 * means a hash tag (a tenant). Key layout in `prelude.ts`: per tenant, a ZSET per label
 * (`P:{T}:t:<label>`) and per labelled entry the SET of its labels (`P:{T}:g:<member>`), both kept by
 * the write and removal scripts in the same step as the entry, in the tenant's slot. So:
 * - a read never touches them (a labelled entry reads exactly like an unlabelled one);
 * - a write replaces the entry's labels (it leaves its old labels' ZSETs), every removal (delete, scope
 *   eviction, bounds, the purge of expired entries by writes and by the sweeper) takes the entry out of
 *   its labels' ZSETs: an expired entry's traces last until its tenant's next purge or sweep, as its
 *   index members do;
 * - a scoped invalidation is one script per batch of 2000 examined members on one slot; `[]` walks the
 *   tenant registry (one script per tenant, 256 tenants at a time).
 * Invalidations raise the scope's eviction generation in their first script (`clear()`-like for `[]`:
 * the cache-wide generation too), so a fenced write whose fence was taken before is refused.
 */

/** Members examined per script call (each call blocks Redis only that long). */
const LABEL_BATCH = 2000
/** Tenants handled concurrently by a cache-wide invalidation. */
const TENANT_BATCH = 256

/** The labels argument of the write scripts: the checked tags joined by newlines (which tags never contain). */
export function packLabels(options: WriteOptions | undefined): string {
  const tags = options?.tags
  if (tags === undefined || tags.length === 0) return ''
  return checkTags(tags, MAX_TAGS_PER_ENTRY, 'RedisStorage.set(ref, value, ttlMs, { tags })').join('\n')
}

/** A publishing variant of the invalidation script and the message's arguments. */
interface Notice {
  readonly script: LuaScript
  readonly args: readonly string[]
}

/** What {@link RedisLabels} needs of its storage. */
export interface LabelHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  readonly registry: TagRegistry
  readonly evictions: RedisEvictions
  readonly isCluster: boolean
  /** The bus channel (`<prefix>:bus`). */
  readonly channel: string
  timed<T>(promise: Promise<T>): Promise<T>
  header(): readonly string[]
  clusterWide(): boolean
  report: StorageContext['onEvicted']
}

/** Tag invalidations of the Redis storage (see the module comment). */
export class RedisLabels {
  readonly #host: LabelHost

  constructor(host: LabelHost) {
    this.#host = host
  }

  /**
   * Removes the entries at or under `path` carrying any of `tags`; resolves how many were live.
   * `message` (a scoped invalidation only): published on the bus channel by the last script, after
   * the removal, so that the removal and its message are one command.
   */
  async invalidate(tags: readonly string[], path: ScopePath, message?: BusMessage): Promise<number> {
    if (tags.length === 0) return 0
    if (path.length !== 0) {
      const tenant = encodeSegment(path[0]!.level, path[0]!.id)
      const prefix = path.length === 1 ? '' : encodeScopePath(path)
      const notice = message === undefined ? undefined : this.#notice(message)
      return this.#inTenant(tenant, tags, prefix, encodeScopePath(path), notice)
    }
    // Every tenant: the cache-wide generation first (fenced writes of tenants not registered yet).
    await this.#host.registry.bumpGlobal()
    let removed = 0
    for (const tenants of await this.#host.registry.batches(TENANT_BATCH)) {
      const counts = await Promise.all(
        tenants.map((tenant) => this.#inTenant(tenant, tags, '', tenant === GLOBAL_TAG ? '@' : tenant)),
      )
      for (const count of counts) removed += count
    }
    return removed
  }

  /** The publishing script of `message` and its arguments (see `lua-labels.ts`). */
  #notice(message: BusMessage): Notice {
    const channel = this.#host.channel
    const text = encodeMessage(message)
    return this.#host.isCluster
      ? { script: INVALIDATE_LABELS_PUBLISH, args: [channel, text] }
      : { script: INVALIDATE_LABELS_BROADCAST, args: [registryOf(channel), channel, text, message.origin] }
  }

  /**
   * One tenant, in batches; the first raises `field`'s generation, the last publishes `notice`'s
   * message (when given).
   */
  async #inTenant(
    tenant: string,
    tags: readonly string[],
    prefix: string,
    field: string,
    notice?: Notice,
  ): Promise<number> {
    const keys = this.#host.keys
    const base = keys.base(tenant)
    const wide = this.#host.clusterWide()
    let label = 1
    let cursor = 0
    let bump = field
    let removed = 0
    let stale = 0
    for (;;) {
      const args = [
        ...this.#host.header(),
        base,
        keys.rootIndex(tenant),
        prefix,
        bump,
        wide ? '1' : '',
        String(LABEL_BATCH),
        String(label),
        String(cursor),
        String(tags.length),
        ...tags,
      ]
      if (notice !== undefined) args.push(...notice.args)
      const script = notice === undefined ? INVALIDATE_LABELS : notice.script
      const reply = (await this.#host.timed(
        script.run(this.#host.client, [`${base}t:${tags[0]}`], args),
      )) as (number | string)[]
      bump = ''
      removed += Number(reply[0])
      stale += Number(reply[1])
      if (wide && reply.length > 7)
        await this.#host.evictions.admitWide(reply.slice(7).map(String), '', '', false)
      if (reply[3] === 1) await this.#host.registry.release(tenant, String(reply[4]))
      if (reply[2] !== 1) break
      label = Number(reply[5])
      cursor = Number(reply[6])
    }
    if (stale !== 0) this.#host.report('expired', stale)
    return removed
  }
}
