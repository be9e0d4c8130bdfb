import { randomUUID } from 'node:crypto'
import type { EntryLocks, EntryRef, LockHandle, ScopeSemaphores } from '../contract.js'
import type { RedisClient } from './connection.js'
import { LuaScript } from './connection.js'
import type { RedisKeys } from './keys.js'
import { RedisSemaphores } from './semaphore.js'

/** Deletes the lock only if it still holds our token (a later holder's lock is left alone). */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** Resets the lock's TTL only if it still holds our token. */
const EXTEND_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

const RELEASE = new LuaScript(RELEASE_LUA)
const EXTEND = new LuaScript(EXTEND_LUA)

/** Runs one storage command with the storage's connection handling and timeout. */
export type RedisCommandRunner = <T>(command: () => Promise<T>) => Promise<T>

/**
 * Entry locks on Redis (standalone or Cluster): `SET P:{T}:l:<member> <token> NX PX ttl` acquires,
 * a compare-and-delete script releases, a compare-and-PEXPIRE script extends. The token is a random
 * UUID per acquisition. The lock key carries the entry's `{T}` hash tag, so on a Cluster it lives on
 * the tenant's node. Expiry is Redis's own, on the server's clock: a holder that died without
 * releasing blocks nobody longer than the TTL it set.
 *
 * Like any single-instance Redis lock it is advisory and best-effort (a failover that loses the key, or
 * a holder paused longer than its TTL, can let two holders overlap); memoization only uses it to avoid
 * running a function many times, never for correctness.
 */
export class RedisLocks implements EntryLocks {
  readonly #client: RedisClient
  readonly #keys: RedisKeys
  readonly #run: RedisCommandRunner
  /** Counting semaphores per scope, on the same connection (see `semaphore.ts`). */
  readonly semaphores: ScopeSemaphores

  constructor(client: RedisClient, keys: RedisKeys, run: RedisCommandRunner) {
    this.#client = client
    this.#keys = keys
    this.#run = run
    this.semaphores = new RedisSemaphores(client, keys, run)
  }

  async acquire(ref: EntryRef, ttlMs: number): Promise<LockHandle | undefined> {
    const key = this.#keys.lock(this.#keys.member(ref))
    const token = randomUUID()
    const reply = await this.#run(() => this.#client.set(key, token, 'PX', Math.ceil(ttlMs), 'NX'))
    return reply === 'OK' ? { ref, token } : undefined
  }

  async extend(handle: LockHandle, ttlMs: number): Promise<boolean> {
    const key = this.#keys.lock(this.#keys.member(handle.ref))
    const reply = await this.#run(() =>
      EXTEND.run(this.#client, [key], [handle.token, String(Math.ceil(ttlMs))]),
    )
    return Number(reply) === 1
  }

  async release(handle: LockHandle): Promise<boolean> {
    const key = this.#keys.lock(this.#keys.member(handle.ref))
    const reply = await this.#run(() => RELEASE.run(this.#client, [key], [handle.token]))
    return Number(reply) === 1
  }
}
