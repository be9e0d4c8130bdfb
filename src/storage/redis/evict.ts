import type { BoundPolicy, ByteUsage, ScopePath, StorageContext } from '../contract.js'
import { decodeEntryRef, decodeScopePath, encodeScopePath, encodeSegment } from '../key-encoding.js'
import type { RedisClient } from './connection.js'
import { boundId, GLOBAL_TAG } from './keys.js'
import type { RedisKeys } from './keys.js'
import type { TagRegistry } from './registry.js'
import { COUNT, DELETE, EVICT_SCOPE, SWEEP, WIDE_ADMIT } from './scripts.js'

/** Tags handled concurrently by `clear()`, `size()` and the sweeper. */
const TAG_BATCH = 256
/** Entries removed per script call by a scope eviction (each call blocks Redis only that long). */
const EVICT_BATCH = 2000

/** What {@link RedisEvictions} needs of its storage (read at each call: bounds come with `attach`). */
export interface EvictionHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  readonly registry: TagRegistry
  readonly isCluster: boolean
  /** A command with the storage's timeout. */
  timed<T>(promise: Promise<T>): Promise<T>
  /** The ARGV header of every script (see `prelude.ts`). */
  header(): readonly string[]
  bounds(): readonly BoundPolicy[]
  /** A cache-wide bound exists and needs the second step (Cluster). */
  clusterWide(): boolean
  report: StorageContext['onEvicted']
  wantsRefs(): boolean
}

/**
 * The removing side of the Redis storage: scope evictions, `clear()`, `size()`, the sweeper, and the
 * Cluster's second step for cache-wide bounds. Every whole-tag removal keeps the registry invariant of
 * `registry.ts` (a tag leaves the registry only after its data is gone), and every scope eviction
 * raises its scope's generation before removing anything (`fence.ts`).
 */
export class RedisEvictions {
  readonly #host: EvictionHost

  constructor(host: EvictionHost) {
    this.#host = host
  }

  /** Evicts every entry at or under `path` (`[]`: every tag); resolves how many were live. */
  async evictScope(path: ScopePath, progress?: EvictProgress): Promise<number> {
    if (path.length === 0) return this.clear(progress)
    const tag = encodeSegment(path[0]!.level, path[0]!.id)
    if (path.length === 1) return this.#evictTag(tag, progress)
    const index = this.#host.keys.index(path)
    const base = this.#host.keys.base(tag)
    return (await this.#evictIndex(index, base, false, encodeScopePath(path), progress)).removed
  }

  /** Number of live entries: one count per registered tag. */
  async size(): Promise<number> {
    let total = 0
    for (const tags of await this.#host.registry.batches(TAG_BATCH)) {
      const counts = await Promise.all(
        tags.map((tag) =>
          this.#host.timed(COUNT.run(this.#host.client, [this.#host.keys.rootIndex(tag)], [])),
        ),
      )
      for (const count of counts) total += Number(count)
    }
    return total
  }

  /**
   * Bytes under byte budgets: one GET of each registered tag's byte counter (`P:{T}:z`, see
   * `prelude.ts`); the `topN` tags holding the most.
   */
  async byteUsage(topN: number): Promise<ByteUsage> {
    const tenants: { scope: ScopePath; bytes: number }[] = []
    let total = 0
    for (const tags of await this.#host.registry.batches(TAG_BATCH)) {
      const held = await Promise.all(
        tags.map((tag) => this.#host.timed(this.#host.client.get(`${this.#host.keys.base(tag)}z`))),
      )
      for (let i = 0; i < tags.length; i++) {
        const bytes = Number(held[i] ?? 0)
        if (!(bytes > 0)) continue
        total += bytes
        tenants.push({ scope: tags[i] === GLOBAL_TAG ? [] : decodeScopePath(tags[i]!), bytes })
      }
    }
    tenants.sort((a, b) => b.bytes - a.bytes)
    return { total, top: tenants.slice(0, topN) }
  }

  /** Reports `(boundIndex, member)` pairs from `reply[from]` on; returns the members. */
  reportVictims(reply: readonly (number | string)[], from: number): string[] {
    const members: string[] = []
    for (let i = from; i + 1 < reply.length; i += 2) {
      const member = String(reply[i + 1])
      members.push(member)
      this.#host.report(
        this.#host.bounds()[Number(reply[i]) - 1]!.reason,
        1,
        this.#host.wantsRefs() ? decodeEntryRef(member) : undefined,
      )
    }
    return members
  }

  /**
   * Cluster: the second step for cache-wide bounds, on their own slot. Forgets members that left the
   * cache, admits the written member (if any), and deletes the victims on their own slots.
   */
  async admitWide(
    forget: readonly string[],
    member: string,
    when: string,
    fresh: boolean,
    size = 0,
  ): Promise<void> {
    const args = [
      ...this.#host.header(),
      String(forget.length),
      ...forget,
      member,
      when,
      fresh ? '1' : '0',
      String(size),
    ]
    const reply = (await this.#host.timed(
      WIDE_ADMIT.run(this.#host.client, [`${this.#host.keys.wide}x`], args),
    )) as (number | string)[]
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const victim = String(reply[i + 1])
      const [existed, , gone, creation] = (await this.#host.timed(
        DELETE.run(this.#host.client, [this.#host.keys.data(victim)], [...this.#host.header(), victim]),
      )) as [number, number, number, string]
      // The victim was its tenant's last entry: the tenant leaves the registry (registry.ts).
      if (gone === 1) await this.#host.registry.release(this.#host.keys.tagOfMember(victim), String(creation))
      if (existed === 1) {
        const reason = this.#host.bounds()[Number(reply[i]) - 1]!.reason
        this.#host.report(reason, 1, this.#host.wantsRefs() ? decodeEntryRef(victim) : undefined)
      }
    }
  }

  /**
   * Evicts every member of an index, in batches of {@link EVICT_BATCH}; the first batch raises the
   * scope's generation `field` (see `fence.ts`). `whole`: the index is a tag's root index, whose
   * marker goes with its last entry. Resolves how many were live, and whether the tag was emptied
   * with the creation id of its marker (for the registry's release).
   */
  async #evictIndex(
    index: string,
    base: string,
    whole: boolean,
    field: string,
    progress?: EvictProgress,
  ): Promise<{ removed: number; gone: boolean; creation: string }> {
    const args = [
      ...this.#host.header(),
      base,
      whole ? '1' : '',
      this.#host.clusterWide() ? '1' : '',
      String(EVICT_BATCH),
    ]
    let removed = 0
    let stale = 0
    let bump = field
    for (;;) {
      const reply = (await this.#host.timed(
        EVICT_SCOPE.run(this.#host.client, [index], [...args, bump]),
      )) as (number | string)[]
      bump = ''
      removed += Number(reply[0])
      stale += Number(reply[1])
      progress?.add(Number(reply[0]))
      if (this.#host.clusterWide() && reply.length > 5)
        await this.admitWide(reply.slice(5).map(String), '', '', false)
      if (reply[2] !== 1) {
        if (stale !== 0) this.#host.report('expired', stale)
        return { removed, gone: reply[3] === 1, creation: String(reply[4]) }
      }
    }
  }

  /**
   * Evicts a whole tag. The tag stays in the registry until its data is gone (the last batch deletes
   * its marker) and then leaves it only if no write registered it again meanwhile (see
   * `registry.ts`): a failure part-way leaves it registered, so nothing is ever orphaned.
   */
  async #evictTag(tag: string, progress?: EvictProgress): Promise<number> {
    const field = tag === GLOBAL_TAG ? '@' : tag
    const result = await this.#evictIndex(
      this.#host.keys.rootIndex(tag),
      this.#host.keys.base(tag),
      true,
      field,
      progress,
    )
    if (result.gone) await this.#host.registry.release(tag, result.creation)
    return result.removed
  }

  /**
   * Evicts every tag. The cache-wide generation is raised before the registry is read, so a fenced
   * write whose tag was not registered yet is refused at its registration (see `fence.ts`).
   */
  async clear(progress?: EvictProgress): Promise<number> {
    await this.#host.registry.bumpGlobal()
    let removed = 0
    for (const tags of await this.#host.registry.batches(TAG_BATCH)) {
      const counts = await Promise.all(tags.map((tag) => this.#evictTag(tag, progress)))
      for (const count of counts) removed += count
    }
    if (this.#host.clusterWide()) {
      const wide = this.#host.keys.wide
      const boundKeys = this.#host
        .bounds()
        .flatMap((b) => (b.per === undefined ? [`${wide}b${boundId(b)}`, `${wide}b${boundId(b)}#`] : []))
      await this.#host.timed(this.#host.client.del(`${wide}x`, `${wide}n`, `${wide}s`, ...boundKeys))
    }
    return removed
  }

  /**
   * Reclaims index entries of expired values (Redis has already dropped the values themselves), and
   * every trace of a tag left without entries (marker, counter, registry membership).
   */
  async sweep(): Promise<void> {
    let expired = 0
    for (const tags of await this.#host.registry.batches(TAG_BATCH)) {
      const counts = await Promise.all(
        tags.map(async (tag) => {
          const [purged, gone, creation] = (await this.#host.timed(
            SWEEP.run(
              this.#host.client,
              [this.#host.keys.rootIndex(tag)],
              [...this.#host.header(), this.#host.keys.base(tag)],
            ),
          )) as [number, number, string]
          if (gone === 1) await this.#host.registry.release(tag, String(creation))
          return purged
        }),
      )
      for (const count of counts) expired += Number(count)
    }
    if (this.#host.bounds().some((b) => b.per === undefined)) {
      if (this.#host.isCluster) await this.admitWide([], '', '', false)
      else {
        const [purged] = (await this.#host.timed(
          SWEEP.run(this.#host.client, [`${this.#host.keys.wide}x`], [...this.#host.header(), '']),
        )) as number[]
        expired += Number(purged)
      }
    }
    if (expired !== 0) this.#host.report('expired', expired)
  }
}

/** Running total of a scope eviction, reported after every batch when someone listens. */
export class EvictProgress {
  #removed = 0
  constructor(readonly listener: ((removedSoFar: number) => void) | undefined) {}

  /** Adds one batch's count and tells the listener. */
  add(count: number): void {
    this.#removed += count
    this.listener?.(this.#removed)
  }
}
