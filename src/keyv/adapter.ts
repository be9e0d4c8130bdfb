import { EventEmitter } from 'node:events'
import type { Cache, LevelName } from '../cache.js'
import { ConfigurationError, InvalidArgumentError, ScopeError } from '../errors.js'
import { directKey, parseEntryKey } from '../keys/entry-key.js'
import type { Operations } from '../operations/pipeline.js'
import { LATER } from '../operations/pipeline.js'
import { operationsOf } from '../operations/registry.js'
import type { DefaultScopeConfig, ResolvedLevel } from '../scopes/scope-config.js'
import { isWellFormed, ScopeConfig } from '../scopes/scope-config.js'
import { resolveOptions, resolveWith } from '../scopes/resolve.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { ScopeSelector } from '../scopes/types.js'
import type { EntryRef, ScopePath, StorageProvider } from '../storage/contract.js'
import { MISS } from '../storage/contract.js'
import { ambientParams } from './ambient.js'

/**
 * The level of the sub-scope that holds one Keyv namespace under the adapter's scope. Level names of a
 * `ScopeConfig` cannot start with `#`, so it never collides with a configured level, and evicting the
 * sub-scope removes that namespace only (O(entries of the namespace)).
 */
export const KEYV_NAMESPACE_LEVEL = '#keyv'

/**
 * Where a {@link KeyvAdapter} keeps its entries:
 * - nothing, `{}` or `{ scope: 'global' }`: the global scope;
 * - a full selector such as `{ scope: 'organization', orgId: 'o1' }`: that scope instance, fixed;
 * - the level alone, `{ scope: 'organization' }`: the ambient scope of each call (its parameters come
 *   from `cache.currentScope()`, set by `cache.runInScope(...)` or a framework integration). A call with
 *   no ambient parameters for that level fails with a `ScopeError` (never a global key).
 */
export type KeyvScopeSelector<SC> =
  | ScopeSelector<SC>
  | ({ readonly scope: LevelName<SC> } & NoParams<Exclude<KeysOf<ScopeSelector<SC>>, 'scope'>>)

/** Every key of every member of a union. */
type KeysOf<T> = T extends unknown ? keyof T : never

/** No scope parameter at all (a selector with some of them is a fixed one, and must have them all). */
type NoParams<P extends PropertyKey> = string extends P ? unknown : { readonly [K in P]?: undefined }

/**
 * A Keyv storage adapter (the keyv 5 `KeyvStoreAdapter` shape) over a cacheado cache, bound to one
 * scope: Keyv, cache-manager 7 and `@nestjs/cache-manager` then read and write one tenant's entries
 * only, and `clear()` is an `evictByScope` of that scope (O(entries of the scope)), or of the
 * namespace's sub-scope when Keyv set a `namespace` (its default is `'keyv'`).
 *
 * ```ts
 * const keyv = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o1' }) })
 * ```
 *
 * Entries go through the cache's pipeline (rules, stats, events, the local tier and its bus). TTLs are
 * Keyv's (milliseconds); the cache's `defaultTtlSeconds` does not apply. The adapter does not own the
 * cache: it has no `disconnect()`, close the cache yourself.
 */
export class KeyvAdapter<
  SC extends ScopeConfig<readonly ScopeLevelShape[]> = DefaultScopeConfig,
> extends EventEmitter {
  /**
   * Options Keyv reads from its store. Keyv 5 calls a store's `iterator` only for the dialects it
   * lists, so the adapter reports `'redis'` (whatever the cache's storage): the iteration itself is
   * cacheado's, through the storage's `list` capability.
   */
  readonly opts: { dialect: string; url: string; [option: string]: unknown } = {
    dialect: 'redis',
    url: 'cacheado://keyv',
  }
  /**
   * The Keyv namespace, set by Keyv itself (`new Keyv({ store, namespace })`). Entries of a namespace
   * live in a sub-scope of the adapter's scope, so one adapter shared by Keyv instances of different
   * namespaces keeps them apart, as Keyv's own keys (`namespace:key`) do.
   */
  namespace: string | undefined
  readonly #cache: Cache<SC, StorageProvider>
  readonly #ops: Operations
  /** The scope of every call, or `undefined` when it is resolved at each call (`#level`). */
  readonly #fixed: ScopePath | undefined
  readonly #level: ResolvedLevel | undefined

  constructor(cache: Cache<SC, StorageProvider>, scopeSelector?: KeyvScopeSelector<SC>) {
    super()
    const ops = cache === null || typeof cache !== 'object' ? undefined : operationsOf(cache)
    if (ops === undefined || !(cache.scopes instanceof ScopeConfig)) {
      throw new ConfigurationError('new KeyvAdapter(cache, scope): cache must be a cacheado Cache')
    }
    this.#cache = cache
    this.#ops = ops
    const selector = scopeSelector as Readonly<Record<string, unknown>> | undefined
    if (selector !== undefined && (selector === null || typeof selector !== 'object')) {
      throw new ScopeError(
        `new KeyvAdapter(cache, scope): scope must be an object such as { scope: 'organization', orgId: 'o1' }, got ${selector === null ? 'null' : typeof selector}`,
      )
    }
    const levelOnly =
      selector !== undefined &&
      typeof selector.scope === 'string' &&
      selector.scope !== 'global' &&
      Object.keys(selector).every((name) => name === 'scope' || selector[name] === undefined)
    if (levelOnly) {
      this.#level = cache.scopes.level(selector.scope as string)
      this.#fixed = undefined
    } else {
      this.#level = undefined
      this.#fixed = resolveOptions(cache.scopes, selector, NO_OTHER_OPTIONS)
    }
  }

  /** The value stored under `key` (Keyv's serialized data), or `undefined`. */
  async get<Value>(key: string): Promise<Value | undefined> {
    const value = await this.#read(this.#ref('get', key))
    return value === MISS ? undefined : (value as Value)
  }

  /** The values of `keys`, `undefined` for each miss, in order. */
  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    const refs = this.#refs('getMany', keys)
    const values = await Promise.all(refs.map((ref) => this.#read(ref)))
    return values.map((value) => (value === MISS ? undefined : (value as Value)))
  }

  /** Whether `key` holds a live entry. */
  async has(key: string): Promise<boolean> {
    return (await this.#read(this.#ref('has', key))) !== MISS
  }

  /** Whether each of `keys` holds a live entry. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const refs = this.#refs('hasMany', keys)
    return (await Promise.all(refs.map((ref) => this.#read(ref)))).map((value) => value !== MISS)
  }

  /** Stores `value` under `key`; `ttl` in milliseconds (absent, 0 or negative: no expiry). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.#write(this.#ref('set', key), value, ttl)
    return true
  }

  /** Stores every entry (each with its own `ttl` in milliseconds). */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    if (!Array.isArray(entries)) {
      throw new InvalidArgumentError('keyv.setMany(entries): entries must be an array of { key, value, ttl }')
    }
    const refs = this.#refs(
      'setMany',
      entries.map((entry) => entry?.key),
    )
    await Promise.all(refs.map((ref, i) => this.#write(ref, entries[i]!.value, entries[i]!.ttl)))
  }

  /** Removes `key`; resolves whether there was a live entry. */
  async delete(key: string): Promise<boolean> {
    return this.#ops.delete(this.#ref('delete', key))
  }

  /** Removes `keys`; resolves whether at least one of them was there. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const refs = this.#refs('deleteMany', keys)
    const removed = await Promise.all(refs.map((ref) => this.#ops.delete(ref)))
    return removed.includes(true)
  }

  /**
   * Removes every entry of the adapter's scope (and of its descendants), or, when Keyv set a
   * `namespace`, every entry of that namespace in the scope: an `evictByScope`, O(entries removed).
   */
  async clear(): Promise<void> {
    await this.#ops.evictScope(this.#path('clear'))
  }

  /**
   * The live entries of the adapter's scope (of the namespace's sub-scope when `namespace` is given or
   * set), as `[key, value]` pairs: Keyv's `iterator()`. It reads the whole scope node in one answer from
   * the storage's `list` (every provider shipped with cacheado has it; a storage without it makes this a
   * `ConfigurationError`). Memoized results stored in the same scope are not listed.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    const path = this.#path('iterator', namespace === undefined ? this.namespace : namespace)
    const storage: StorageProvider = this.#cache.storage
    if (typeof storage.list !== 'function') {
      throw new ConfigurationError(
        `keyv.iterator(): the ${storage.storageType} storage cannot list a scope (StorageProvider.list)`,
      )
    }
    for (const [stored, value] of await storage.list(path)) {
      const { key } = parseEntryKey(stored)
      if (key !== undefined) yield [key, value]
    }
  }

  async #read(ref: EntryRef): Promise<unknown> {
    const now = this.#ops.readNow(ref, false)
    return now === LATER ? this.#ops.fetch(ref, false) : now
  }

  async #write(ref: EntryRef, value: unknown, ttl: number | undefined): Promise<void> {
    if (ttl !== undefined && ttl !== null && typeof ttl !== 'number') {
      throw new InvalidArgumentError(`keyv.set(key, value, ttl): ttl must be milliseconds, got ${typeof ttl}`)
    }
    const ttlMs = ttl !== undefined && ttl !== null && ttl > 0 && ttl !== Infinity ? ttl : undefined
    if (this.#ops.sync !== undefined) this.#ops.writeSync(ref, value, ttlMs, false)
    else await this.#ops.write(ref, value, ttlMs, false)
  }

  #refs(operation: string, keys: readonly unknown[]): EntryRef[] {
    if (!Array.isArray(keys)) throw new InvalidArgumentError(`keyv.${operation}(keys): keys must be an array`)
    const scope = this.#path(operation)
    return keys.map((key) => ({ scope, key: this.#key(operation, key) }))
  }

  #ref(operation: string, key: unknown): EntryRef {
    return { scope: this.#path(operation), key: this.#key(operation, key) }
  }

  #key(operation: string, key: unknown): string {
    if (typeof key !== 'string') {
      throw new InvalidArgumentError(
        `keyv.${operation}(key): key must be a string, got ${key === null ? 'null' : typeof key}`,
      )
    }
    if (!isWellFormed(key)) {
      throw new InvalidArgumentError(
        `keyv.${operation}(key): key must be well-formed Unicode; it contains a lone UTF-16 surrogate`,
      )
    }
    return directKey(key)
  }

  /** The scope path of this call: the fixed or ambient scope, then the namespace's sub-scope. */
  #path(operation: string, namespace: string | undefined = this.namespace): ScopePath {
    this.#ops.checkOpen(`keyv.${operation}`)
    const base = this.#fixed ?? this.#ambientPath(operation)
    if (namespace === undefined || namespace === null || namespace === '') return base
    if (typeof namespace !== 'string' || !isWellFormed(namespace)) {
      throw new InvalidArgumentError('keyv: the namespace must be a well-formed string')
    }
    return [...base, { level: KEYV_NAMESPACE_LEVEL, id: namespace }]
  }

  #ambientPath(operation: string): ScopePath {
    const level = this.#level!
    const params = ambientParams(this.#cache)
    const needed = [...level.params]
    const missing =
      params === undefined
        ? needed
        : needed.filter((param) => params[param] === undefined || params[param] === null)
    if (missing.length !== 0) {
      const why =
        params === undefined
          ? 'no ambient scope is set (or this cache has no cache.currentScope())'
          : `the ambient scope has no ${missing.join(', ')}`
      throw new ScopeError(
        `keyv.${operation}: this KeyvAdapter is bound to the ambient ${level.name} scope, but ${why}; run the call inside cache.runInScope({ ${needed.join(', ')} }, fn), or give the adapter the parameters: new KeyvAdapter(cache, { scope: '${level.name}', ${needed.map((p) => `${p}: ...`).join(', ')} })`,
      )
    }
    return resolveWith(level, (param) => params![param])
  }
}

/** A selector carries the scope and its parameters only. */
const NO_OTHER_OPTIONS: ReadonlySet<string> = new Set(['scope'])
