import type { EntryRef, Miss, StorageContext, StoredEntry } from '../contract.js'
import { decodeEntryRef } from '../key-encoding.js'
import { settleEntries } from '../entry-codec.js'
import type { RedisEvictions } from './evict.js'
import type { TagRegistry } from './registry.js'
import { MISS } from '../contract.js'
import type { RedisClient } from './connection.js'
import type { RedisKeys } from './keys.js'
import { DELETE_MANY, GET_MANY_TTL } from './scripts.js'
import type { BatchedWrite, RedisWrites } from './write.js'

/**
 * Bulk reads and writes of the Redis storage (`getMany` / `setMany` of the storage contract), once the
 * refs are turned into members and the values encoded.
 *
 * Round trips: the keys of one tag (one tenant) share a hash slot, so one script reads all of them.
 * On a standalone Redis, slots do not matter and ONE script reads every key asked (up to
 * {@link READ_CHUNK} keys per script; longer lists send several scripts at once on the same
 * connection, which is still one round trip). On a Cluster, one script per tag, all sent at once: the
 * tenants are read in parallel, one round trip per node.
 */

/** Keys per read script at most, so that one script never blocks Redis for long. */
export const READ_CHUNK = 1000
/** Entries per write script at most (the coalesced writes' limit). */
export const WRITE_CHUNK = 256

/** What the bulk operations need of their storage. */
export interface BulkHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  /** Whether the serializer is entry-bound: `decode` may answer `MISS` or a Promise (see `entry-codec.ts`). */
  readonly entryBound: boolean
  /** The value of the bytes stored for `member`. */
  decode(bytes: Buffer, member: string): unknown
  readonly isCluster: boolean
  readonly writes: RedisWrites
  readonly registry: TagRegistry
  readonly evictions: RedisEvictions
  timed<T>(promise: Promise<T>): Promise<T>
  header(): readonly string[]
  /** Whether the cache-wide bounds need their own step (Cluster). */
  clusterWide(): boolean
  /** Whether evicted refs are wanted (read at each report). */
  wantsRefs(): boolean
  report: StorageContext['onEvicted']
}

/** Reads the values of `members` (duplicates allowed), in order: `MGET`s grouped as `readMany`'s scripts. */
export async function readValues(host: BulkHost, members: readonly string[]): Promise<unknown[]> {
  const out = new Array<unknown>(members.length)
  const groups = groupIndexes(members, (member) => (host.isCluster ? host.keys.tagOfMember(member) : ''))
  const reads: Promise<void>[] = []
  for (const indexes of groups) {
    for (let start = 0; start < indexes.length; start += READ_CHUNK) {
      const chunk = indexes.slice(start, start + READ_CHUNK)
      const keys = chunk.map((i) => host.keys.data(members[i]!))
      reads.push(
        host.timed(host.client.mgetBuffer(keys)).then((values) => {
          chunk.forEach((index, j) => {
            const bytes = values[j]
            out[index] = bytes === null || bytes === undefined ? MISS : host.decode(bytes, members[index]!)
          })
        }),
      )
    }
  }
  await Promise.all(reads)
  return host.entryBound ? Promise.all(out) : out
}

/**
 * Reads the entries of `members` (duplicates allowed) with their expiries, in order. The expiry is
 * computed from the time the request was sent, so it is never later than the real one.
 */
export async function readMany(host: BulkHost, members: readonly string[]): Promise<(StoredEntry | Miss)[]> {
  const out = new Array<StoredEntry | Miss>(members.length)
  const groups = groupIndexes(members, (member) => (host.isCluster ? host.keys.tagOfMember(member) : ''))
  const sent = Date.now()
  const reads: Promise<void>[] = []
  for (const indexes of groups) {
    for (let start = 0; start < indexes.length; start += READ_CHUNK) {
      const chunk = indexes.slice(start, start + READ_CHUNK)
      const keys = chunk.map((i) => host.keys.data(members[i]!))
      reads.push(
        host.timed(GET_MANY_TTL.runBuffer(host.client, keys, [])).then((reply) => {
          const values = reply as (Buffer | null | number)[]
          chunk.forEach((index, j) => {
            const bytes = values[2 * j] as Buffer | null
            if (bytes === null || bytes === undefined) {
              out[index] = MISS
              return
            }
            const ttl = Number(values[2 * j + 1])
            // -1: no expiry; -2 (gone meanwhile) or 0: expired, reported as expiring now.
            const expiresAt = ttl === -1 ? undefined : sent + Math.max(ttl, 0)
            out[index] = { value: host.decode(bytes, members[index]!), expiresAt }
          })
        }),
      )
    }
  }
  await Promise.all(reads)
  return host.entryBound ? settleEntries(out) : out
}

/**
 * Writes encoded entries with the batch script, one script per tag (at most {@link WRITE_CHUNK} entries
 * each), all sent at once; the entries of one tag are written in order (later writes of a key win).
 */
export async function writeMany(host: BulkHost, writes: readonly BatchedWrite[]): Promise<void> {
  const batches: Promise<void>[] = []
  for (const indexes of groupIndexes(writes, (write) => write.group)) {
    for (let start = 0; start < indexes.length; start += WRITE_CHUNK) {
      const chunk = indexes.slice(start, start + WRITE_CHUNK).map((i) => writes[i]!)
      batches.push(host.writes.writeBatch(chunk))
    }
  }
  await Promise.all(batches)
}

/**
 * Deletes `members` (none repeated) with one script per tag (at most {@link WRITE_CHUNK} members
 * each), all sent at once; answers whether each existed. Tags emptied are released from the registry,
 * expired traces reported, and on a Cluster the cache-wide bounds forget the members, as `delete`
 * does for one.
 */
export async function deleteMany(host: BulkHost, members: readonly string[]): Promise<boolean[]> {
  const out = new Array<boolean>(members.length).fill(false)
  const scripts: Promise<void>[] = []
  for (const indexes of groupIndexes(members, (member) => host.keys.tagOfMember(member))) {
    const tag = host.keys.tagOfMember(members[indexes[0]!]!)
    for (let start = 0; start < indexes.length; start += WRITE_CHUNK) {
      const chunk = indexes.slice(start, start + WRITE_CHUNK)
      const args = [...host.header(), ...chunk.map((i) => members[i]!)]
      scripts.push(
        host.timed(DELETE_MANY.run(host.client, [host.keys.rootIndex(tag)], args)).then(async (reply) => {
          const [gone, creation, ...flags] = reply as (number | string)[]
          const forget: string[] = []
          chunk.forEach((index, j) => {
            const existed = Number(flags[2 * j]) === 1
            const stale = Number(flags[2 * j + 1]) === 1
            out[index] = existed
            if (stale) host.report('expired', 1, host.wantsRefs() ? refOf(members[index]!) : undefined)
            if (existed || stale) forget.push(members[index]!)
          })
          if (Number(gone) === 1) await host.registry.release(tag, String(creation))
          if (host.clusterWide() && forget.length !== 0) await host.evictions.admitWide(forget, '', '', false)
        }),
      )
    }
  }
  await Promise.all(scripts)
  return out
}

const refOf = (member: string): EntryRef => decodeEntryRef(member)

/** The positions of `items` grouped by `groupOf`, each group in the items' order. */
function groupIndexes<T>(items: readonly T[], groupOf: (item: T) => string): number[][] {
  const groups = new Map<string, number[]>()
  items.forEach((item, index) => {
    const group = groupOf(item)
    const indexes = groups.get(group)
    if (indexes === undefined) groups.set(group, [index])
    else indexes.push(index)
  })
  return [...groups.values()]
}
