import { randomUUID } from 'node:crypto'
import type { LeaseHandle, ScopePath, ScopeSemaphores } from '../contract.js'
import type { RedisClient } from './connection.js'
import { LuaScript } from './connection.js'
import type { RedisKeys } from './keys.js'

/** Runs one storage command with the storage's connection handling and timeout (as in `lock.ts`). */
type RedisCommandRunner = <T>(command: () => Promise<T>) => Promise<T>

/** The server's clock in ms (scripts are replicated by effects, so `TIME` is allowed before writes). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/** Keeps the set until its latest lease expires (a set nobody releases disappears on its own). */
const KEEP = `if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end`

/** Drops expired leases, then grants one if fewer than ARGV[2] remain. ARGV: token, limit, ttl. */
const ACQUIRE = new LuaScript(`${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
${KEEP}
return 1`)

/** Pushes an unexpired lease's expiry to now + ttl. ARGV: token, ttl. */
const EXTEND = new LuaScript(`${NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return 0 end
if tonumber(expiry) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
${KEEP}
return 1`)

/** Removes a lease; 1 if it was still held (unexpired). ARGV: token. */
const RELEASE = new LuaScript(`${NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(expiry) <= now then return 0 end
return 1`)

/**
 * Counting semaphores per scope on Redis (standalone or Cluster): one sorted set per `(scope, name)`,
 * `P:{T}:s:<scope and name>`, whose members are lease tokens scored by their expiry on the server's
 * clock. Acquire, extend and release are Lua scripts, so counting the unexpired leases and adding one is
 * a single atomic step. The key carries the scope's `{T}` hash tag: on a Cluster a tenant's semaphores
 * live on its node, beside its entries. Like the entry locks it is best-effort across a failover.
 */
export class RedisSemaphores implements ScopeSemaphores {
  readonly #client: RedisClient
  readonly #keys: RedisKeys
  readonly #run: RedisCommandRunner

  constructor(client: RedisClient, keys: RedisKeys, run: RedisCommandRunner) {
    this.#client = client
    this.#keys = keys
    this.#run = run
  }

  #key(scope: ScopePath, name: string): string {
    const member = this.#keys.member({ scope, key: name })
    return `${this.#keys.base(this.#keys.tagOfMember(member))}s:${member}`
  }

  async acquire(
    scope: ScopePath,
    name: string,
    limit: number,
    ttlMs: number,
  ): Promise<LeaseHandle | undefined> {
    const key = this.#key(scope, name)
    const token = randomUUID()
    const reply = await this.#run(() =>
      ACQUIRE.run(this.#client, [key], [token, String(limit), String(Math.ceil(ttlMs))]),
    )
    return Number(reply) === 1 ? { scope, name, token } : undefined
  }

  async extend(lease: LeaseHandle, ttlMs: number): Promise<boolean> {
    const key = this.#key(lease.scope, lease.name)
    const reply = await this.#run(() =>
      EXTEND.run(this.#client, [key], [lease.token, String(Math.ceil(ttlMs))]),
    )
    return Number(reply) === 1
  }

  async release(lease: LeaseHandle): Promise<boolean> {
    const key = this.#key(lease.scope, lease.name)
    const reply = await this.#run(() => RELEASE.run(this.#client, [key], [lease.token]))
    return Number(reply) === 1
  }
}
