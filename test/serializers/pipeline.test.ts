import { randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ConfigurationError,
  JsonSerializer,
  MsgpackSerializer,
  SerializationError,
  SerializerPipeline,
  UNREADABLE,
} from '../../src/index.js'
import type { EntryAddress, Serializer, TenantKey, UnreadableEvent } from '../../src/index.js'

const acme: EntryAddress = { scope: [{ level: 'organization', id: 'acme' }], key: 'report' }
const beta: EntryAddress = { scope: [{ level: 'organization', id: 'beta' }], key: 'report' }
const root: EntryAddress = { scope: [], key: 'motd' }

/** A key store: tenant -> current key id and its keys. */
function keyStore() {
  const keys = new Map<string, Map<string, Uint8Array>>()
  const current = new Map<string, string>()
  const add = (tenant: string, id: string, key: Uint8Array = randomBytes(32)) => {
    if (!keys.has(tenant)) keys.set(tenant, new Map())
    keys.get(tenant)!.set(id, key)
    current.set(tenant, id)
  }
  const provider = (tenant: string, { keyId }: { keyId?: string }): TenantKey | undefined => {
    const id = keyId ?? current.get(tenant)
    const key = id === undefined ? undefined : keys.get(tenant)?.get(id)
    return key === undefined ? undefined : { id: id!, key }
  }
  return { keys, add, provider, drop: (tenant: string) => keys.delete(tenant) }
}

function encrypted(extra: Partial<ConstructorParameters<typeof SerializerPipeline>[0]> = {}) {
  const store = keyStore()
  store.add('acme', 'k1')
  store.add('beta', 'k1')
  const events: UnreadableEvent[] = []
  const pipeline = new SerializerPipeline({
    compression: 'gzip',
    encryption: { keys: store.provider },
    onUnreadable: (event) => events.push(event),
    ...extra,
  })
  return { store, events, pipeline }
}

/** A serializer that stores Uint8Arrays as they are (to plant plain bytes that look like a frame). */
const raw: Serializer = {
  name: 'raw',
  serialize: (value) => value as Uint8Array,
  deserialize: (bytes) => Buffer.from(bytes),
}

const sync = (value: unknown) => {
  expect(value).not.toBeInstanceOf(Promise)
  return value
}

const big = { text: 'Zürich 東京 🚀 '.repeat(2000), n: 1n, when: new Date(5), m: new Map([[1, 'a']]) }

describe('SerializerPipeline', () => {
  it('round-trips large, UTF-8 and binary values with every available compression', () => {
    const algorithms = [
      'gzip',
      'brotli',
      ...(typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'
        ? ['zstd' as const]
        : []),
    ] as const
    for (const algorithm of algorithms) {
      const pipeline = new SerializerPipeline({ compression: { algorithm, thresholdBytes: 64 } })
      const binary = randomBytes(5000)
      for (const value of [big, binary, 'é'.repeat(10_000), [new Uint8Array(3000)], 'short']) {
        const bytes = pipeline.serialize(value)
        expect(pipeline.deserialize(bytes)).toEqual(value)
        expect(sync(pipeline.deserializeEntry(bytes, acme))).toEqual(value)
      }
      expect(pipeline.serialize(big).byteLength).toBeLessThan(
        new MsgpackSerializer().serialize(big).byteLength / 10,
      )
    }
  })

  it('leaves values under the threshold, and incompressible ones, as plain inner bytes', () => {
    const pipeline = new SerializerPipeline({ compression: 'brotli' })
    const small = { a: 1 }
    expect(Buffer.from(pipeline.serialize(small))).toEqual(
      Buffer.from(new MsgpackSerializer().serialize(small)),
    )
    const noise = randomBytes(4096)
    const bytes = pipeline.serialize(noise)
    expect(bytes[0]).not.toBe(0xc1)
    expect(pipeline.deserialize(bytes)).toEqual(noise)
  })

  it('reads values written before it was switched on (msgpack and JSON), and frames plain bytes that start with its magic', () => {
    const { pipeline } = encrypted()
    for (const inner of [new MsgpackSerializer(), new JsonSerializer()]) {
      const p = new SerializerPipeline({
        serializer: inner,
        compression: 'gzip',
        encryption: { keys: () => randomBytes(32) },
      })
      const old = inner.serialize(big)
      expect(old[0]).not.toBe(0xc1) // neither format can start with the magic
      expect(sync(p.deserializeEntry(old, acme))).toEqual(big)
    }
    expect(sync(pipeline.deserializeEntry(new MsgpackSerializer().serialize('plain'), acme))).toBe('plain')
    // A custom serializer's plain bytes that look like a frame (magic, version, flags) still read.
    const plainPipeline = new SerializerPipeline({
      serializer: raw,
      compression: { algorithm: 'gzip', thresholdBytes: 1 << 20 },
    })
    for (const planted of [
      Buffer.from([0xc1, 0x63, 0x64]),
      Buffer.from([0xc1, 0x63, 0x64, 1, 8]),
      Buffer.from([0xc1, 0x63, 0x64, 1, 1, 0, 0, 0, 9, 1, 2, 3]),
      Buffer.from([0xc1, 0x63, 0x64, 1, 2, 0, 0, 0]),
      Buffer.from([0xc1, 0x63, 0x64, 7, 0, 1]),
    ]) {
      expect(sync(plainPipeline.deserializeEntry(planted, acme))).toEqual(planted)
      expect(plainPipeline.deserialize(planted)).toEqual(planted)
      // Written through the pipeline, such a value is framed, so it reads back as itself.
      const written = plainPipeline.serialize(planted)
      expect(sync(plainPipeline.deserializeEntry(written, acme))).toEqual(planted)
    }
  })

  it('encrypts per tenant: bytes hold no plaintext, and round-trip for their entry only', () => {
    const { pipeline, events } = encrypted()
    const secret = { card: 'SECRET-4242-'.repeat(3) }
    const bytes = sync(pipeline.serializeEntry(secret, acme)) as Uint8Array
    expect(Buffer.from(bytes).includes('SECRET')).toBe(false)
    expect(sync(pipeline.deserializeEntry(bytes, acme))).toEqual(secret)
    // Copied into another tenant's entry, or another key of the same tenant: not decrypted.
    expect(sync(pipeline.deserializeEntry(bytes, beta))).toBe(UNREADABLE)
    expect(sync(pipeline.deserializeEntry(bytes, { ...acme, key: 'other' }))).toBe(UNREADABLE)
    const deeper = { scope: [...acme.scope, { level: 'user', id: 'u' }], key: 'report' }
    expect(sync(pipeline.deserializeEntry(bytes, deeper))).toBe(UNREADABLE)
    expect(events.map((e) => e.reason)).toEqual(['tampered', 'tampered', 'tampered'])
    expect(pipeline.stats().unreadable.tampered).toBe(3)
    // Without its entry, an encrypted value is not readable, and a write refuses to go unencrypted.
    expect(() => pipeline.deserialize(bytes)).toThrow(SerializationError)
    expect(() => pipeline.serialize(secret)).toThrow(SerializationError)
  })

  it('draws a fresh IV for every write, across refills of the IV pool (600 writes)', () => {
    const { pipeline } = encrypted()
    const ivs = new Set<string>()
    for (let i = 0; i < 600; i++) {
      const bytes = Buffer.from(pipeline.serializeEntry('v', acme) as Uint8Array)
      // magic, version, flags, key id length, 'k1', then the IV
      ivs.add(bytes.subarray(8, 20).toString('hex'))
      expect(pipeline.deserializeEntry(bytes, acme)).toBe('v')
    }
    expect(ivs.size).toBe(600)
  })

  it('makes every byte flip and truncation of a ciphertext a miss, never a throw (property)', () => {
    const { pipeline } = encrypted()
    const bytes = Buffer.from(sync(pipeline.serializeEntry(big, acme)) as Uint8Array)
    fc.assert(
      fc.property(
        fc.nat(bytes.length - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(bytes.length - 1),
        (at, flip, cut) => {
          const tampered = Buffer.from(bytes)
          tampered[at]! ^= flip
          expect(pipeline.deserializeEntry(tampered, acme)).toBe(UNREADABLE)
          expect(pipeline.deserializeEntry(bytes.subarray(0, cut), acme)).toBe(UNREADABLE)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('round-trips arbitrary values for arbitrary entries (property)', () => {
    const { pipeline } = encrypted({ compression: { algorithm: 'brotli', thresholdBytes: 16 } })
    const tenant = fc.constantFrom('acme', 'beta')
    fc.assert(
      fc.property(fc.jsonValue(), tenant, fc.string(), (value, id, key) => {
        const entry = { scope: [{ level: 'organization', id }], key }
        const bytes = pipeline.serializeEntry(value, entry) as Uint8Array
        expect(pipeline.deserializeEntry(bytes, entry)).toEqual(value)
      }),
      { numRuns: 200 },
    )
  })

  it('crypto-shreds: a dropped key makes the tenant unreadable (a miss and an event), others unaffected', () => {
    const { pipeline, store, events } = encrypted()
    const a = sync(pipeline.serializeEntry('a', acme)) as Uint8Array
    const b = sync(pipeline.serializeEntry('b', beta)) as Uint8Array
    store.drop('acme')
    expect(pipeline.deserializeEntry(a, acme)).toBe(UNREADABLE)
    expect(pipeline.deserializeEntry(b, beta)).toBe('b')
    expect(events).toMatchObject([{ reason: 'no-key', keyId: 'k1', entry: acme }])
    expect(() => pipeline.serializeEntry('again', acme)).toThrow(/no key for tenant "acme"/)
  })

  it('rotates keys: old values read with their key id, new ones use the current key', () => {
    const { pipeline, store } = encrypted()
    const old = sync(pipeline.serializeEntry('old', acme)) as Uint8Array
    store.add('acme', 'k2')
    const fresh = sync(pipeline.serializeEntry('new', acme)) as Uint8Array
    expect(Buffer.from(fresh).includes('k2')).toBe(true)
    expect(pipeline.deserializeEntry(old, acme)).toBe('old')
    expect(pipeline.deserializeEntry(fresh, acme)).toBe('new')
    store.keys.get('acme')!.delete('k1') // retire k1
    expect(pipeline.deserializeEntry(old, acme)).toBe(UNREADABLE)
    expect(pipeline.deserializeEntry(fresh, acme)).toBe('new')
  })

  it('accepts a bare 32-byte key (id "") and a key id that differs from the asked one is no key', () => {
    const key = randomBytes(32)
    const pipeline = new SerializerPipeline({ encryption: { keys: () => key } })
    const bytes = pipeline.serializeEntry('v', acme) as Uint8Array
    expect(pipeline.deserializeEntry(bytes, acme)).toBe('v')
    const other = new SerializerPipeline({ encryption: { keys: () => ({ id: 'x', key }) } })
    expect(other.deserializeEntry(bytes, acme)).toBe(UNREADABLE)
    expect(other.stats().unreadable['no-key']).toBe(1)
  })

  it('refuses a key of the wrong length with a ConfigurationError on write, and reads it as a miss', () => {
    const good = encrypted().pipeline
    const bytes = good.serializeEntry('v', acme) as Uint8Array
    for (const bad of [
      randomBytes(16),
      randomBytes(33),
      new Uint8Array(0),
      'a'.repeat(32) as unknown as Uint8Array,
    ]) {
      const events: UnreadableEvent[] = []
      const pipeline = new SerializerPipeline({
        encryption: { keys: () => ({ id: 'k1', key: bad }) },
        onUnreadable: (e) => events.push(e),
      })
      expect(() => pipeline.serializeEntry('v', acme)).toThrow(ConfigurationError)
      expect(() => pipeline.serializeEntry('v', acme)).toThrow(/needs exactly 32 bytes/)
      expect(pipeline.deserializeEntry(bytes, acme)).toBe(UNREADABLE)
      expect(events[0]).toMatchObject({ reason: 'key-error' })
      expect(events[0]!.error).toBeInstanceOf(ConfigurationError)
    }
    expect(() =>
      new SerializerPipeline({
        encryption: { keys: () => ({ id: 'é'.repeat(200), key: randomBytes(32) }) },
      }).serializeEntry(1, acme),
    ).toThrow(/at most 255 bytes/)
  })

  it('turns a key provider that throws or rejects into a miss and an event on read, a SerializationError on write', async () => {
    const good = encrypted().pipeline
    const bytes = good.serializeEntry('v', acme) as Uint8Array
    for (const keys of [
      () => {
        throw new Error('kms down')
      },
      () => Promise.reject(new Error('kms down')),
    ]) {
      const events: UnreadableEvent[] = []
      const pipeline = new SerializerPipeline({
        encryption: { keys },
        onUnreadable: (e) => {
          events.push(e)
          throw new Error('a listener that throws is ignored')
        },
      })
      expect(await pipeline.deserializeEntry(bytes, acme)).toBe(UNREADABLE)
      expect(events).toMatchObject([{ reason: 'key-error', keyId: 'k1' }])
      await expect(Promise.resolve().then(() => pipeline.serializeEntry('v', acme))).rejects.toThrow(
        /key provider failed for tenant "acme": kms down/,
      )
    }
  })

  it("works with an asynchronous provider and keeps one tenant's writes in order (50 runs)", async () => {
    const key = randomBytes(32)
    let calls = 0
    const pipeline = new SerializerPipeline({
      encryption: {
        keys: async () => {
          calls++
          await new Promise((r) => setTimeout(r, Math.random() * 3))
          return { id: 'k', key }
        },
      },
    })
    for (let run = 0; run < 50; run++) {
      const order: number[] = []
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (pipeline.serializeEntry(i, acme) as Promise<Uint8Array>).then(() => order.push(i)),
        ),
      )
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    }
    // Concurrent requests for one tenant's key shared one call.
    expect(calls).toBe(50)
    const bytes = await pipeline.serializeEntry('v', acme)
    expect(await pipeline.deserializeEntry(bytes, acme)).toBe('v')
  })

  it('reuses keys for keyCacheMs, and forgetKeys makes a dropped key take effect at once', () => {
    const store = keyStore()
    store.add('acme', 'k1')
    let calls = 0
    const pipeline = new SerializerPipeline({
      encryption: { keys: (t, r) => (calls++, store.provider(t, r)), keyCacheMs: 60_000 },
    })
    const bytes = pipeline.serializeEntry('v', acme) as Uint8Array
    pipeline.serializeEntry('v', acme)
    expect(pipeline.deserializeEntry(bytes, acme)).toBe('v')
    expect(pipeline.deserializeEntry(bytes, acme)).toBe('v')
    expect(calls).toBe(2) // one for the current key, one for k1 by id
    store.drop('acme')
    expect(pipeline.deserializeEntry(bytes, acme)).toBe('v') // cached
    pipeline.forgetKeys('beta')
    expect(pipeline.deserializeEntry(bytes, acme)).toBe('v')
    pipeline.forgetKeys('acme')
    expect(pipeline.deserializeEntry(bytes, acme)).toBe(UNREADABLE)
    pipeline.forgetKeys()
  })

  it('stores global entries unencrypted (or refuses them), and requireEncrypted refuses plaintext tenant values', () => {
    const { pipeline } = encrypted()
    const bytes = sync(pipeline.serializeEntry('hello', root)) as Uint8Array
    expect(pipeline.deserializeEntry(bytes, root)).toBe('hello')
    const refusing = encrypted({ encryption: { keys: () => randomBytes(32), unscoped: 'refuse' } }).pipeline
    expect(() => refusing.serializeEntry('hello', root)).toThrow(/global entry/)
    const strict = encrypted({ encryption: { keys: () => randomBytes(32), requireEncrypted: true } })
    const plain = new MsgpackSerializer().serialize('planted')
    expect(strict.pipeline.deserializeEntry(plain, acme)).toBe(UNREADABLE)
    expect(strict.pipeline.deserializeEntry(plain, root)).toBe('planted')
    expect(strict.events).toMatchObject([{ reason: 'unencrypted' }])
    // An encrypted value read by a pipeline without encryption: no key.
    const enc = pipeline.serializeEntry('x', acme) as Uint8Array
    expect(new SerializerPipeline().deserializeEntry(enc, acme)).toBe(UNREADABLE)
    expect(pipeline.deserializeEntry(enc, root)).toBe(UNREADABLE)
  })

  it('reads corrupt bytes as a miss', () => {
    const { pipeline, events } = encrypted()
    expect(pipeline.deserializeEntry(Buffer.from([0xc1]), acme)).toBe(UNREADABLE)
    // msgpackr would decode a leading 0xC1 as a marker object: the serializer refuses it instead.
    expect(() => new MsgpackSerializer().deserialize(Buffer.from([0xc1, 0x63, 0x64, 1]))).toThrow(
      SerializationError,
    )
    const zipped = new SerializerPipeline({ compression: { algorithm: 'gzip', thresholdBytes: 1 } })
    const bytes = Buffer.from(zipped.serialize('x'.repeat(100)))
    bytes.writeUInt32BE(5, 5) // claims 5 uncompressed bytes: a decompression bomb guard trips
    expect(pipeline.deserializeEntry(bytes, acme)).toBe(UNREADABLE)
    expect(() => zipped.deserialize(bytes)).toThrow(SerializationError)
    expect(() => zipped.deserialize(Buffer.from([0xc1, 0x63, 0x64, 1, 4]))).toThrow(SerializationError)
    expect(events.every((e) => e.reason === 'corrupt')).toBe(true)
  })

  it('refuses bad options with a ConfigurationError that says what to do', () => {
    const bad: [unknown, RegExp][] = [
      [{ compression: 'lz4' }, /unknown compression algorithm "lz4"/],
      [{ compression: { algorithm: 'gzip', level: 12 } }, /gzip level must be an integer from 1 to 9/],
      [{ compression: { algorithm: 'gzip', thresholdBytes: -1 } }, /thresholdBytes/],
      [{ encryption: { keys: 'k' } }, /encryption.keys must be a function/],
      [{ encryption: { keys: () => undefined, keyCacheMs: -1 } }, /keyCacheMs/],
      [{ encryption: { keys: () => undefined, unscoped: 'yes' } }, /unscoped/],
      [{ serializer: {} }, /serializer must implement/],
      [{ onUnreadable: 1 }, /onUnreadable/],
      [null, /options must be an object/],
    ]
    for (const [options, message] of bad) {
      expect(() => new SerializerPipeline(options as never)).toThrow(ConfigurationError)
      expect(() => new SerializerPipeline(options as never)).toThrow(message)
    }
  })

  it.skipIf(typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function')(
    'refuses zstd at construction on a Node.js without it',
    () => {
      expect(() => new SerializerPipeline({ compression: 'zstd' })).toThrow(ConfigurationError)
      expect(() => new SerializerPipeline({ compression: 'zstd' })).toThrow(/zstd' needs Node.js 22.15/)
    },
  )

  it('is named after its stages', () => {
    expect(new SerializerPipeline().name).toBe('msgpack')
    expect(encrypted().pipeline.name).toBe('msgpack+gzip+aes-256-gcm')
  })
})
