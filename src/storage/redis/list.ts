import type { ScopePath } from '../contract.js'
import { MISS } from '../contract.js'
import { decodeEntryRef, encodeScopePath } from '../key-encoding.js'
import type { RedisClient } from './connection.js'
import { GLOBAL_TAG } from './keys.js'
import type { RedisKeys } from './keys.js'

/** Members read per ZSCAN step and values per MGET. */
const STEP = 500

/** What {@link listScope} needs of its storage. */
export interface ListHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  /** The value of the bytes stored for `member`: `MISS` when unreadable, maybe a Promise (see `entry-codec.ts`). */
  decode(bytes: Buffer, member: string): unknown
  /** A command with the storage's timeout. */
  timed<T>(promise: Promise<T>): Promise<T>
}

/**
 * The live entries stored directly in `path` (`StorageProvider.list`): the members of the scope's index
 * ZSET (`P:{T}:i:<path>`, every entry at or under the scope, see `prelude.ts`) whose scope is `path`
 * itself, then their values. All keys share the tag's hash slot, so each MGET goes to one Cluster node.
 * Expired members (score in the past) are skipped; an entry removed between the scan and the MGET reads
 * as `null` and is skipped too.
 */
export async function listScope(host: ListHost, path: ScopePath): Promise<Array<readonly [string, unknown]>> {
  const { client, keys } = host
  const prefix = `${encodeScopePath(path)}|`
  const index = path.length === 0 ? `${keys.base(GLOBAL_TAG)}i:` : keys.index(path)
  const members: string[] = []
  const now = Date.now()
  let cursor = '0'
  do {
    const [next, flat] = await host.timed(client.zscan(index, cursor, 'COUNT', STEP))
    for (let i = 0; i < flat.length; i += 2) {
      // '+inf' (no TTL) parses as NaN, which is never in the past
      if (flat[i]!.startsWith(prefix) && !(Number(flat[i + 1]) <= now)) members.push(flat[i]!)
    }
    cursor = next
  } while (cursor !== '0')
  const listed: Array<readonly [string, unknown]> = []
  let pending = false
  for (let at = 0; at < members.length; at += STEP) {
    const batch = members.slice(at, at + STEP)
    const values = await host.timed(client.mgetBuffer(...batch.map((member) => keys.data(member))))
    values.forEach((bytes, i) => {
      if (bytes === null) return
      const value = host.decode(bytes, batch[i]!)
      pending ||= value instanceof Promise
      listed.push([decodeEntryRef(batch[i]!).key, value])
    })
  }
  const settled = pending
    ? await Promise.all(listed.map(async ([key, value]) => [key, await value] as const))
    : listed
  // Values an entry-bound serializer cannot read any more (a dropped key) are not listed.
  return settled.filter(([, value]) => value !== MISS)
}
