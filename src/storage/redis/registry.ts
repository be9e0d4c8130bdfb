import type { RedisClient } from './connection.js'
import { LuaScript } from './connection.js'
import { FENCE_RETENTION_MS } from './fence.js'
import type { RedisKeys } from './keys.js'

/**
 * The registry of tags (`P:tags`, a SET the operator CLI reads too) and its bookkeeping, all in the
 * registry's slot: `P:{P:tags}:e` (hash: tag -> registration id) and `P:{P:tags}:g` (the cache-wide
 * eviction generation, see `fence.ts`).
 *
 * Invariant: a tag that holds data is in the registry, so `clear()`, `size()`, the sweeper and the CLI
 * always find it. It holds because
 * - a tag is in the registry before, or in the same step as, its data is written: on a standalone Redis
 *   the write script that finds no marker (`P:{T}:r`) registers the tag itself. On a Cluster (the
 *   registry is in another slot) a fenced write that finds no marker writes nothing and asks for a
 *   registration, then runs again with its id; a plain write writes at once with a pending marker
 *   (`p:`, so that writes started in one tick keep their order) and the client then registers the tag
 *   and confirms the id in the marker: until the confirmation, every write of the tag retries it.
 *   (The one window left: a Cluster client that dies between a plain first write and its
 *   registration leaves that data unregistered until the tag's next write.) A registration id is
 *   `max(previous + 1, server time in µs)`; the marker's value is `<creation id>:<earliest expiry>`.
 * - a tag leaves the registry only AFTER its data is gone: the script that empties a tag (last
 *   eviction batch, sweep, delete of its last entry) deletes its marker and returns the marker's
 *   creation id; the client then removes the tag with {@link RELEASE_LUA}, only if no registration
 *   happened since that marker was created (a writer that saw the marker gone registers anew, which
 *   changes the id and keeps the tag). A connection lost between the two steps leaves a registered tag
 *   without data, which is harmless and reclaimed by the next sweep.
 * - a write refuses a registration id older than {@link REGISTRATION_FRESH_MS} (the client registers
 *   again), and a tag registered without a marker is released only when its registration is older than
 *   {@link STALE_REGISTRATION_MS}: a write that registered and has not run yet can still create its
 *   marker (this assumes the clocks of Cluster nodes agree within a minute).
 */

/** A write refuses a registration id older than this (server time of the tag's node). */
export const REGISTRATION_FRESH_MS = 30_000
/** A registered tag without a marker is released once its registration is older than this. */
export const STALE_REGISTRATION_MS = 120_000

const NOW_US = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

/**
 * Registers a tag. KEYS[1] registry, KEYS[2] registration ids, KEYS[3] cache-wide generation; ARGV
 * tag, expected cache-wide generation (`-`: any). Returns the new registration id, or `''` when the
 * cache-wide generation is not the expected one (a `clear()` started since a fence was taken).
 */
export const REGISTER_LUA = `
if ARGV[2] ~= '-' and (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return '' end
${NOW_US}
local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') or 0
local id = now
if id <= old then id = old + 1 end
id = string.format('%.0f', id)
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('SADD', KEYS[1], ARGV[1])
return id
`

/**
 * Releases a tag whose data is gone. KEYS[1] registry, KEYS[2] registration ids; ARGV tag, creation
 * id of the marker the emptying script deleted (`''`: there was none, `p`: it was pending). Returns 1 if
 * released.
 */
export const RELEASE_LUA = `
local id = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[2] ~= '' and ARGV[2] ~= 'p' then
  if (id or '0') ~= ARGV[2] then return 0 end
elseif id then
  ${NOW_US}
  if now - tonumber(id) < ${STALE_REGISTRATION_MS * 1000} then return 0 end
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`

/** Raises the cache-wide generation (KEYS[1]); see `fence.ts`. */
export const BUMP_GLOBAL_LUA = `
${NOW_US}
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if now <= old then now = old + 1 end
redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', ${FENCE_RETENTION_MS})
return 1
`

/**
 * Confirms a tag's registration in its marker. KEYS[1] the tag's marker; ARGV the registration id.
 * A pending marker (`p:...`, written before the registration) or one created by an older registration
 * takes the id (concurrent first writes each register: the marker ends with the latest id, the one the
 * registry holds, so that the tag can be released once emptied); a newer one is left alone.
 */
export const CONFIRM_LUA = `
local m = redis.call('GET', KEYS[1])
if not m then return 0 end
local c, rest = string.match(m, '^([%dp]*)(:.*)$')
if not c then
  c = '0'
  rest = ':' .. m
end
if c == 'p' or (tonumber(c) or 0) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1] .. rest)
  return 1
end
return 0
`

const REGISTER = new LuaScript(REGISTER_LUA)
const CONFIRM = new LuaScript(CONFIRM_LUA)
const RELEASE = new LuaScript(RELEASE_LUA)
const BUMP_GLOBAL = new LuaScript(BUMP_GLOBAL_LUA)
/** The registry's scripts, for preloading. */
export const REGISTRY_SCRIPTS = [REGISTER, CONFIRM, RELEASE, BUMP_GLOBAL]

/** Runs one command with the storage's timeout and error handling. */
export type Timed = <T>(promise: Promise<T>) => Promise<T>

/** The registry of one prefix, on the storage's client. */
export class TagRegistry {
  readonly #client: RedisClient
  readonly #keys: RedisKeys
  readonly #timed: Timed
  /** `P:{P:tags}:e` */
  readonly #ids: string
  /** `P:{P:tags}:g` */
  readonly global: string

  constructor(client: RedisClient, keys: RedisKeys, timed: Timed) {
    this.#client = client
    this.#keys = keys
    this.#timed = timed
    this.#ids = `${keys.prefix}:{${keys.registry}}:e`
    this.global = `${keys.prefix}:{${keys.registry}}:g`
  }

  /**
   * Registers `tag`; resolves its registration id, or `undefined` when `expectedGlobal` is given and
   * the cache-wide generation differs from it.
   */
  async register(tag: string, expectedGlobal?: string): Promise<string | undefined> {
    const keys = [this.#keys.registry, this.#ids, this.global]
    const id = await this.#timed(REGISTER.run(this.#client, keys, [tag, expectedGlobal ?? '-']))
    return id === '' ? undefined : String(id)
  }

  /**
   * Registers `tag` after a plain write marked it pending (its data is already written), then confirms
   * the registration in its marker. A failure leaves the marker pending: the next write retries.
   */
  async confirm(tag: string): Promise<void> {
    const id = await this.register(tag)
    await this.#timed(CONFIRM.run(this.#client, [`${this.#keys.base(tag)}r`], [id!]))
  }

  /**
   * Releases `tag` after a script emptied it (`creation`: its deleted marker's id, `''` if none). Never
   * rejects: the emptying already happened, and a tag left registered without data is harmless (the
   * sweeper releases it later).
   */
  async release(tag: string, creation: string): Promise<void> {
    const keys = [this.#keys.registry, this.#ids]
    await this.#timed(RELEASE.run(this.#client, keys, [tag, creation])).catch(() => undefined)
  }

  /** Raises the cache-wide generation: every fence taken before it refuses a write that registers. */
  async bumpGlobal(): Promise<void> {
    await this.#timed(BUMP_GLOBAL.run(this.#client, [this.global], []))
  }

  /** The cache-wide generation (`''`: none). */
  async readGlobal(): Promise<string> {
    return (await this.#timed(this.#client.get(this.global))) ?? ''
  }

  /** Every registered tag, in batches of `size`. */
  async batches(size: number): Promise<string[][]> {
    const tags = await this.#timed(this.#client.smembers(this.#keys.registry))
    const batches: string[][] = []
    for (let i = 0; i < tags.length; i += size) batches.push(tags.slice(i, i + size))
    return batches
  }
}
