import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'
import { ConfigurationError, SerializationError } from '../errors.js'
import { codecOf, decoderOf } from './compress.js'
import type { Codec, CompressionAlgorithm } from './compress.js'
import type { EntryAddress, EntrySerializer, Serializer } from './contract.js'
import { UNREADABLE } from './contract.js'
import { IV_BYTES, MAGIC, readHeader, TAG_BYTES, writeHeader } from './frame.js'
import type { FrameHeader } from './frame.js'
import { KeyRing } from './keys.js'
import type { ResolvedKey, TenantKeyProvider } from './keys.js'
import { MsgpackSerializer } from './msgpack.js'

/** Compression settings of a {@link SerializerPipeline}. */
export interface CompressionOptions {
  /** `'gzip'`, `'brotli'` or `'zstd'` (zstd needs Node.js 22.15+; refused at construction otherwise). */
  readonly algorithm: CompressionAlgorithm
  /** Level (gzip 1-9, default 6; brotli 0-11, default 4; zstd 1-22, default 3). */
  readonly level?: number
  /**
   * Values whose serialized bytes are shorter than this are stored uncompressed (default 1024). A
   * value whose compressed bytes would not be smaller is stored uncompressed too.
   */
  readonly thresholdBytes?: number
}

/** Per-tenant encryption settings of a {@link SerializerPipeline}. */
export interface EncryptionOptions {
  /** Gives each top-level tenant's key (see {@link TenantKeyProvider}). */
  readonly keys: TenantKeyProvider
  /**
   * How long an answer of `keys` is reused, in milliseconds (default 0: asked at every read and
   * write, so a dropped key takes effect at once). With a slow provider (a KMS), set e.g. 60_000 and
   * call {@link SerializerPipeline.forgetKeys} when a tenant's key is dropped.
   */
  readonly keyCacheMs?: number
  /**
   * Entries of the global root belong to no tenant: `'plain'` (default) stores them unencrypted
   * (compressed as configured), `'refuse'` refuses them with a `SerializationError`.
   */
  readonly unscoped?: 'plain' | 'refuse'
  /**
   * When true, tenants' values stored unencrypted (written before encryption was switched on, or
   * planted by someone with write access to the backend) read as misses. Default false: they read.
   */
  readonly requireEncrypted?: boolean
}

/** Why a stored value could not be read (the read was a miss). */
export type UnreadableReason =
  /** The tenant's key (or the key id the value was written with) is gone: crypto-shredded. */
  | 'no-key'
  /** The key provider threw, rejected, or answered a malformed key. */
  | 'key-error'
  /** Authentication failed: tampered bytes, a value copied from another entry or tenant, a wrong key. */
  | 'tampered'
  /** The bytes are neither a readable frame nor readable plain bytes. */
  | 'corrupt'
  /** An unencrypted tenant value with `requireEncrypted`. */
  | 'unencrypted'

/** What {@link SerializerPipelineOptions.onUnreadable} is told. */
export interface UnreadableEvent {
  /** Why. */
  readonly reason: UnreadableReason
  /** The entry's scope path and key. */
  readonly entry: EntryAddress
  /** The key id the value was written with, when encrypted. */
  readonly keyId?: string
  /** The error behind it (the provider's, or the decoder's), when there is one. */
  readonly error?: unknown
}

/** Options of a {@link SerializerPipeline}. */
export interface SerializerPipelineOptions {
  /** The serializer that turns values into bytes first (default: `MsgpackSerializer`). */
  readonly serializer?: Serializer
  /** Compression: an algorithm name or {@link CompressionOptions}; absent or `false`: none. */
  readonly compression?: CompressionAlgorithm | CompressionOptions | false
  /** Per-tenant AES-256-GCM encryption; absent: none. */
  readonly encryption?: EncryptionOptions
  /** Called (synchronously; what it throws is ignored) for every read that was a miss because the value could not be read. */
  readonly onUnreadable?: (event: UnreadableEvent) => void
}

/** Counters of a {@link SerializerPipeline} (see {@link SerializerPipeline.stats}). */
export interface SerializerPipelineStats {
  /** Reads that were misses because the value could not be read, per reason. */
  readonly unreadable: Readonly<Record<UnreadableReason, number>>
}

const SEALED = 'SerializerPipeline: this value is encrypted and needs its entry to be read'

/**
 * A serializer for shared backends (Redis, Redis Cluster, MongoDB) that serializes, compresses values
 * above a size threshold, and encrypts each top-level tenant's values (the first scope level below
 * global, e.g. the organization) with AES-256-GCM under that tenant's own key. The ciphertext is bound
 * to its entry (tenant, scope path and key as authenticated data): bytes copied under another entry or
 * tenant do not decrypt. Dropping a tenant's key makes every copy of its values unreadable
 * (crypto-shredding); such reads, like tampered bytes, are misses reported to `onUnreadable` and
 * counted in {@link SerializerPipeline.stats}, never errors. Values written without the pipeline (or
 * with other settings) still read: the format is in each value's header (see `frame.ts`).
 *
 * The in-memory storage and a local tier keep references, not bytes: they are not affected.
 */
export class SerializerPipeline implements Serializer, EntrySerializer {
  readonly name: string
  readonly #inner: Serializer
  readonly #codec: Codec | undefined
  readonly #threshold: number
  readonly #keys: KeyRing | undefined
  readonly #unscoped: 'plain' | 'refuse'
  readonly #requireEncrypted: boolean
  readonly #onUnreadable: ((event: UnreadableEvent) => void) | undefined
  readonly #unreadable: Record<UnreadableReason, number> = {
    'no-key': 0,
    'key-error': 0,
    tampered: 0,
    corrupt: 0,
    unencrypted: 0,
  }

  constructor(options: SerializerPipelineOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('SerializerPipeline: options must be an object')
    }
    const inner = options.serializer ?? new MsgpackSerializer()
    if (typeof inner?.serialize !== 'function' || typeof inner.deserialize !== 'function') {
      throw new ConfigurationError(
        'SerializerPipeline: serializer must implement serialize() and deserialize()',
      )
    }
    this.#inner = inner
    const compression =
      typeof options.compression === 'string'
        ? { algorithm: options.compression }
        : options.compression || undefined
    this.#threshold = compression?.thresholdBytes ?? 1024
    if (!(Number.isInteger(this.#threshold) && this.#threshold >= 0)) {
      throw new ConfigurationError(
        `SerializerPipeline: compression.thresholdBytes must be a non-negative integer, got ${String(compression?.thresholdBytes)}`,
      )
    }
    this.#codec = compression === undefined ? undefined : codecOf(compression.algorithm, compression.level)
    const encryption = options.encryption
    if (encryption !== undefined) {
      if (typeof encryption?.keys !== 'function') {
        throw new ConfigurationError(
          'SerializerPipeline: encryption.keys must be a function (tenantId, request) => key | undefined',
        )
      }
      const cacheMs = encryption.keyCacheMs ?? 0
      if (!(typeof cacheMs === 'number' && cacheMs >= 0 && Number.isFinite(cacheMs))) {
        throw new ConfigurationError(
          `SerializerPipeline: encryption.keyCacheMs must be a non-negative number of milliseconds, got ${String(cacheMs)}`,
        )
      }
      if (
        encryption.unscoped !== undefined &&
        encryption.unscoped !== 'plain' &&
        encryption.unscoped !== 'refuse'
      ) {
        throw new ConfigurationError(
          `SerializerPipeline: encryption.unscoped must be 'plain' or 'refuse', got ${JSON.stringify(encryption.unscoped)}`,
        )
      }
      this.#keys = new KeyRing(encryption.keys, cacheMs)
    }
    this.#unscoped = encryption?.unscoped ?? 'plain'
    this.#requireEncrypted = encryption?.requireEncrypted === true
    if (options.onUnreadable !== undefined && typeof options.onUnreadable !== 'function') {
      throw new ConfigurationError('SerializerPipeline: onUnreadable must be a function')
    }
    this.#onUnreadable = options.onUnreadable
    const codecName = compression === undefined ? '' : `+${compression.algorithm}`
    this.name = `${inner.name}${codecName}${this.#keys === undefined ? '' : '+aes-256-gcm'}`
  }

  /** Counters since construction. */
  stats(): SerializerPipelineStats {
    return { unreadable: { ...this.#unreadable } }
  }

  /** Forgets cached keys (see `keyCacheMs`) of `tenantId`, or of every tenant. */
  forgetKeys(tenantId?: string): void {
    this.#keys?.forget(tenantId)
  }

  /**
   * Serializes and compresses, without encryption (it needs the entry: the shared storages call
   * {@link SerializerPipeline.serializeEntry}). With encryption configured this throws a
   * `SerializationError` rather than write a tenant's value unencrypted.
   */
  serialize(value: unknown): Uint8Array {
    if (this.#keys !== undefined) {
      throw new SerializationError(
        'SerializerPipeline: with encryption, values must be written through serializeEntry (RedisStorage and MongoDBStorage do); this storage called serialize()',
      )
    }
    return this.#pack(value)
  }

  /** Reads plain and compressed values; throws a `SerializationError` for an encrypted one (it needs its entry). */
  deserialize(bytes: Uint8Array): unknown {
    const header = readHeader(bytes)
    if (header === undefined) return this.#inner.deserialize(bytes)
    if (header === 'truncated' || header.keyId !== undefined) throw new SerializationError(SEALED)
    try {
      return this.#unpack(bytes.subarray(header.headerLength), header)
    } catch (error) {
      return this.#plainFallback(bytes, error)
    }
  }

  /** Serializes, compresses and encrypts `value` for `entry` (see the class comment). */
  serializeEntry(value: unknown, entry: EntryAddress): Uint8Array | Promise<Uint8Array> {
    const tenant = entry.scope[0]
    if (this.#keys === undefined || tenant === undefined) {
      if (this.#keys !== undefined && this.#unscoped === 'refuse') {
        throw new SerializationError(
          `SerializerPipeline: ${JSON.stringify(entry.key)} is a global entry (no tenant, so no key) and encryption.unscoped is 'refuse'; store it in a tenant's scope`,
        )
      }
      return this.#pack(value)
    }
    const raw = this.#inner.serialize(value)
    const key = this.#writeKey(tenant.level, tenant.id)
    if (key instanceof Promise) return key.then((resolved) => this.#seal(raw, entry, resolved))
    return this.#seal(raw, entry, key)
  }

  /**
   * Reads bytes stored under `entry`: the value, or `UNREADABLE` (the storage reports a miss) when
   * they cannot be read; a Promise when the key provider answers asynchronously. Never throws.
   */
  deserializeEntry(bytes: Uint8Array, entry: EntryAddress): unknown {
    let header: FrameHeader | undefined
    try {
      const read = readHeader(bytes)
      if (read === 'truncated') return this.#miss('corrupt', entry)
      header = read
      const tenant = entry.scope[0]
      if (this.#requireEncrypted && tenant !== undefined && header?.keyId === undefined) {
        return this.#miss('unencrypted', entry)
      }
      if (header === undefined) return this.#inner.deserialize(bytes)
      if (header.keyId === undefined) {
        try {
          return this.#unpack(bytes.subarray(header.headerLength), header)
        } catch (error) {
          return this.#plainFallback(bytes, error)
        }
      }
      if (this.#keys === undefined || tenant === undefined) return this.#miss('no-key', entry, header.keyId)
      const keyId = header.keyId
      const opened = header
      let key: ResolvedKey | undefined | Promise<ResolvedKey | undefined>
      try {
        key = this.#keys.get(tenant.level, tenant.id, keyId)
      } catch (error) {
        return this.#miss('key-error', entry, keyId, error)
      }
      if (!(key instanceof Promise)) return this.#open(bytes, opened, entry, key)
      return key.then(
        (resolved) => this.#open(bytes, opened, entry, resolved),
        (error: unknown) => this.#miss('key-error', entry, keyId, error),
      )
    } catch (error) {
      return this.#miss('corrupt', entry, header?.keyId, error)
    }
  }

  /** Inner bytes, compressed when large enough; framed when compressed or when they look like a frame. */
  #pack(value: unknown): Uint8Array {
    const raw = this.#inner.serialize(value)
    const [code, body] = this.#compress(raw)
    if (code === 0 && !startsWithMagic(raw)) return raw
    return Buffer.concat([writeHeader(code, raw.byteLength), body])
  }

  #compress(raw: Uint8Array): [0 | Codec['code'], Uint8Array] {
    if (this.#codec === undefined || raw.byteLength < this.#threshold || raw.byteLength === 0) return [0, raw]
    const compressed = this.#codec.compress(raw)
    return compressed.byteLength < raw.byteLength ? [this.#codec.code, compressed] : [0, raw]
  }

  /** The key to write `tenant`'s values with; a `SerializationError` when there is none. */
  #writeKey(level: string, tenantId: string): ResolvedKey | Promise<ResolvedKey> {
    const fail = (error: unknown): never => {
      if (error instanceof ConfigurationError) throw error
      throw new SerializationError(
        `SerializerPipeline: the key provider failed for tenant ${JSON.stringify(tenantId)}: ${error instanceof Error ? error.message : String(error)}; nothing was written`,
        { cause: error },
      )
    }
    const need = (key: ResolvedKey | undefined): ResolvedKey => {
      if (key !== undefined) return key
      throw new SerializationError(
        `SerializerPipeline: no key for tenant ${JSON.stringify(tenantId)} (the key provider answered undefined); a tenant without a key cannot write, and nothing was written`,
      )
    }
    let key: ResolvedKey | undefined | Promise<ResolvedKey | undefined>
    try {
      key = this.#keys!.get(level, tenantId)
    } catch (error) {
      return fail(error)
    }
    return key instanceof Promise ? key.then(need, fail) : need(key)
  }

  /** Compresses and encrypts `raw` for `entry` under `key`. */
  #seal(raw: Uint8Array, entry: EntryAddress, key: ResolvedKey): Uint8Array {
    const [code, body] = this.#compress(raw)
    const iv = nextIv()
    const header = writeHeader(code, raw.byteLength, { keyId: key.idBytes, iv })
    const cipher = createCipheriv('aes-256-gcm', key.key, iv)
    cipher.setAAD(Buffer.concat([header, addressBytes(entry)]))
    return Buffer.concat([header, cipher.update(body), cipher.final(), cipher.getAuthTag()])
  }

  /** Decrypts, decompresses and deserializes a sealed frame, or reports why it cannot. */
  #open(bytes: Uint8Array, header: FrameHeader, entry: EntryAddress, key: ResolvedKey | undefined): unknown {
    if (key === undefined) return this.#miss('no-key', entry, header.keyId)
    let body: Buffer
    try {
      const end = bytes.byteLength - TAG_BYTES
      const decipher = createDecipheriv('aes-256-gcm', key.key, header.iv!)
      decipher.setAAD(Buffer.concat([bytes.subarray(0, header.headerLength), addressBytes(entry)]))
      decipher.setAuthTag(bytes.subarray(end))
      body = Buffer.concat([decipher.update(bytes.subarray(header.headerLength, end)), decipher.final()])
    } catch (error) {
      return this.#miss('tampered', entry, header.keyId, error)
    }
    try {
      return this.#unpack(body, header)
    } catch (error) {
      return this.#miss('corrupt', entry, header.keyId, error)
    }
  }

  /** Decompresses (as the header says) and deserializes a frame's payload. */
  #unpack(body: Uint8Array, header: FrameHeader): unknown {
    if (header.compression === 0) return this.#inner.deserialize(body)
    const raw = decoderOf(header.compression).decompress(body, header.rawLength)
    if (raw.byteLength !== header.rawLength) {
      throw new SerializationError(
        `SerializerPipeline: the value decompressed to ${raw.byteLength} bytes, its header says ${header.rawLength}`,
      )
    }
    return this.#inner.deserialize(raw)
  }

  /**
   * An unencrypted "frame" that does not read: maybe plain bytes (written without the pipeline) that
   * happen to start like a frame; read them as such, or throw what the frame decoding threw.
   */
  #plainFallback(bytes: Uint8Array, error: unknown): unknown {
    try {
      return this.#inner.deserialize(bytes)
    } catch {
      throw error instanceof SerializationError
        ? error
        : new SerializationError(`SerializerPipeline: unreadable value: ${(error as Error).message}`, {
            cause: error,
          })
    }
  }

  #miss(reason: UnreadableReason, entry: EntryAddress, keyId?: string, error?: unknown): typeof UNREADABLE {
    this.#unreadable[reason]++
    if (this.#onUnreadable !== undefined) {
      try {
        this.#onUnreadable({
          reason,
          entry,
          ...(keyId === undefined ? {} : { keyId }),
          ...(error === undefined ? {} : { error }),
        })
      } catch {
        // A listener's failure never turns a miss into an error.
      }
    }
    return UNREADABLE
  }
}

/** Random IVs, drawn from the CSPRNG 256 at a time (one `randomBytes(12)` call per write cost ~10 µs). */
const ivPool = Buffer.allocUnsafe(IV_BYTES * 256)
let ivAt = ivPool.length

/** A fresh random IV; valid until the next call (it is copied into the header and the cipher at once). */
function nextIv(): Buffer {
  if (ivAt === ivPool.length) {
    randomFillSync(ivPool)
    ivAt = 0
  }
  ivAt += IV_BYTES
  return ivPool.subarray(ivAt - IV_BYTES, ivAt)
}

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 3 && bytes[0] === MAGIC[0] && bytes[1] === MAGIC[1] && bytes[2] === MAGIC[2]
}

/** The entry as authenticated data: its scope path and key, unambiguously (JSON). */
function addressBytes(entry: EntryAddress): Buffer {
  return Buffer.from(JSON.stringify([entry.scope.map((s) => [s.level, s.id]), entry.key]), 'utf8')
}
