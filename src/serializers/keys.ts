import { ConfigurationError } from '../errors.js'

/** Bytes of an AES-256 key. */
export const KEY_BYTES = 32

/**
 * A tenant's key as a key provider returns it: the 32 key bytes with the id stored beside each value
 * (so that keys can rotate: a read asks for the key its value was written with), or the bare 32 bytes
 * (id `''`).
 */
export type TenantKey = Uint8Array | { readonly id: string; readonly key: Uint8Array }

/** What a key provider is asked. */
export interface KeyRequest {
  /** The tenant's scope level (the first level below global, e.g. `'organization'`). */
  readonly level: string
  /**
   * Absent: the key to encrypt a write with (the tenant's current key). Present: the key a stored
   * value was written with, to decrypt it; answer `undefined` if that key is gone.
   */
  readonly keyId?: string
}

/**
 * Gives the key of a top-level tenant, synchronously or not; `undefined` when the tenant has no key
 * (dropped: its data is unreadable, reads are misses). Errors it throws or rejects with never reach a
 * reader: the read is a miss, reported through `onUnreadable`.
 */
export type TenantKeyProvider = (
  tenantId: string,
  request: KeyRequest,
) => TenantKey | undefined | Promise<TenantKey | undefined>

/** A checked key, ready for the cipher. */
export interface ResolvedKey {
  readonly id: string
  /** `id` in UTF-8 (as the frame stores it). */
  readonly idBytes: Buffer
  /** The 32 key bytes (a copy of the provider's). */
  readonly key: Buffer
}

type Cached = { readonly key: ResolvedKey | undefined; readonly until: number }

/**
 * Calls the key provider, checks what it answers, and keeps answers `cacheMs` milliseconds (0: asks
 * every time). Concurrent requests for the same key share one call, so that the writes of one tenant
 * are encrypted in the order they were made.
 */
export class KeyRing {
  readonly #provider: TenantKeyProvider
  readonly #cacheMs: number
  readonly #cache = new Map<string, Map<string | undefined, Cached>>()
  readonly #pending = new Map<string, Map<string | undefined, Promise<ResolvedKey | undefined>>>()

  constructor(provider: TenantKeyProvider, cacheMs: number) {
    this.#provider = provider
    this.#cacheMs = cacheMs
  }

  /**
   * The key of `tenantId` (current one when `keyId` is undefined), `undefined` when the provider has
   * none (or a different id than asked). Throws (or rejects with) whatever the provider threw, or a
   * `ConfigurationError` for a malformed key.
   */
  get(
    level: string,
    tenantId: string,
    keyId?: string,
  ): ResolvedKey | undefined | Promise<ResolvedKey | undefined> {
    const slot = `${level.length}:${level}${tenantId}`
    const pending = this.#pending.get(slot)?.get(keyId)
    if (pending !== undefined) return pending
    if (this.#cacheMs > 0) {
      const cached = this.#cache.get(slot)?.get(keyId)
      if (cached !== undefined && cached.until > Date.now()) return cached.key
    }
    const answer = this.#provider(tenantId, keyId === undefined ? { level } : { level, keyId })
    if (!(answer instanceof Promise)) return this.#keep(slot, keyId, check(answer, tenantId, keyId))
    const promise = answer.then((key) => this.#keep(slot, keyId, check(key, tenantId, keyId)))
    let bySlot = this.#pending.get(slot)
    if (bySlot === undefined) this.#pending.set(slot, (bySlot = new Map()))
    bySlot.set(keyId, promise)
    const done = () => {
      const map = this.#pending.get(slot)
      if (map?.get(keyId) === promise) {
        map.delete(keyId)
        if (map.size === 0) this.#pending.delete(slot)
      }
    }
    promise.then(done, done)
    return promise
  }

  /** Forgets the cached keys of `tenantId` (every tenant when absent): the next use asks the provider. */
  forget(tenantId?: string): void {
    if (tenantId === undefined) {
      this.#cache.clear()
      return
    }
    for (const slot of [...this.#cache.keys()]) {
      const colon = slot.indexOf(':')
      const levelLength = Number(slot.slice(0, colon))
      if (slot.slice(colon + 1 + levelLength) === tenantId) this.#cache.delete(slot)
    }
  }

  #keep(slot: string, keyId: string | undefined, key: ResolvedKey | undefined): ResolvedKey | undefined {
    if (this.#cacheMs > 0) {
      let bySlot = this.#cache.get(slot)
      if (bySlot === undefined) this.#cache.set(slot, (bySlot = new Map()))
      bySlot.set(keyId, { key, until: Date.now() + this.#cacheMs })
    }
    return key
  }
}

/** Checks a provider's answer: `undefined`, or a 32-byte key with an id of at most 255 UTF-8 bytes. */
function check(
  answer: TenantKey | undefined,
  tenantId: string,
  keyId: string | undefined,
): ResolvedKey | undefined {
  if (answer === undefined || answer === null) return undefined
  const bytes = answer instanceof Uint8Array ? answer : answer.key
  const id = answer instanceof Uint8Array ? '' : answer.id
  const what = `the key provider's key for tenant ${JSON.stringify(tenantId)}`
  if (typeof id !== 'string') {
    throw new ConfigurationError(
      `${what} has an id that is not a string; return { id: string, key: Uint8Array }`,
    )
  }
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== KEY_BYTES) {
    const got = bytes instanceof Uint8Array ? `${bytes.byteLength} bytes` : typeof bytes
    throw new ConfigurationError(
      `${what} is ${got}; AES-256-GCM needs exactly ${KEY_BYTES} bytes (e.g. crypto.randomBytes(32), or a 64-character hex string through Buffer.from(hex, 'hex'))`,
    )
  }
  const idBytes = Buffer.from(id, 'utf8')
  if (idBytes.length > 255) {
    throw new ConfigurationError(
      `${what} has an id of ${idBytes.length} UTF-8 bytes; key ids are at most 255 bytes`,
    )
  }
  // A read asks for the key its value was written with: another key cannot decrypt it.
  if (keyId !== undefined && id !== keyId) return undefined
  return { id, idBytes, key: Buffer.from(bytes) }
}
