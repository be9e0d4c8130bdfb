import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { Binary } from 'mongodb'
import { afterAll, describe, expect, it } from 'vitest'
import {
  Cache,
  ConfigurationError,
  MISS,
  MsgpackSerializer,
  SerializationError,
  SerializerPipeline,
} from '../../src/index.js'
import type { EntryRef, Serializer, StorageProvider, TenantKey, UnreadableEvent } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { encodeEntryRef } from '../../src/storage/key-encoding.js'
import { RedisKeys } from '../../src/storage/redis/keys.js'
import { mongoUrl, redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'
import { describeStorageConformance, scopes } from './conformance.js'

/**
 * Compression and per-tenant encryption (SerializerPipeline) on the shared backends: real Redis,
 * Redis Cluster and FerretDB, with raw access to the stored bytes to tamper with them.
 */

interface Backend {
  /** A storage on the backend's namespace `name` (attached, no bounds, unless `forCache`). */
  open(serializer: Serializer, name: string, forCache?: boolean): StorageProvider
  /** The bytes stored for `ref` in `name`, or null. */
  read(name: string, ref: EntryRef): Promise<Buffer | null>
  /** Replaces the bytes stored for an existing `ref` in `name`. */
  write(name: string, ref: EntryRef, bytes: Buffer): Promise<void>
  close(): Promise<void>
}

const attach = (storage: StorageProvider) => {
  storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
  return storage
}

function redisBackend(
  raw: Redis | Cluster,
  create: (name: string, serializer: Serializer) => RedisStorage,
): Backend {
  const dataKey = (name: string, ref: EntryRef) => {
    const keys = new RedisKeys(name)
    return keys.data(keys.member(ref))
  }
  return {
    open: (serializer, name, forCache) =>
      forCache ? create(name, serializer) : attach(create(name, serializer)),
    read: (name, ref) => raw.getBuffer(dataKey(name, ref)),
    write: async (name, ref, bytes) => {
      await raw.set(dataKey(name, ref), bytes, 'KEEPTTL')
    },
    close: async () => {
      await raw.quit()
    },
  }
}

function mongoBackend(): Backend {
  const storages: MongoDBStorage[] = []
  const collection = (name: string) => {
    const storage = storages.find((s) => s.collection.collectionName === name)!
    return storage.collection
  }
  return {
    open: (serializer, name, forCache) => {
      const storage = new MongoDBStorage({
        url: mongoUrl!,
        dbName: 'cacheado_test',
        collectionName: name,
        serializer,
      })
      storages.push(storage)
      return forCache ? storage : attach(storage)
    },
    read: async (name, ref) => {
      const doc = await collection(name).findOne({ _id: encodeEntryRef(ref) })
      return doc?.v === undefined ? null : Buffer.from((doc.v as Binary).buffer)
    },
    write: async (name, ref, bytes) => {
      await collection(name).updateOne({ _id: encodeEntryRef(ref) }, { $set: { v: new Binary(bytes) } })
    },
    close: async () => {
      for (const name of new Set(storages.map((s) => s.collection.collectionName))) {
        await collection(name)
          .drop()
          .catch(() => undefined)
      }
    },
  }
}

const org = (id: string, key = 'report'): EntryRef => ({ scope: [{ level: 'organization', id }], key })
const user = (orgId: string, userId: string, key: string): EntryRef => ({
  scope: [
    { level: 'organization', id: orgId },
    { level: 'user', id: userId },
  ],
  key,
})

/** Tenant keys with ids; `drop` crypto-shreds a tenant. */
function keyStore(...tenants: string[]) {
  const keys = new Map(tenants.map((t) => [t, { id: 'k1', key: randomBytes(32) as Uint8Array }]))
  return {
    provider: (tenant: string, { keyId }: { keyId?: string }): TenantKey | undefined => {
      const key = keys.get(tenant)
      return key === undefined || (keyId !== undefined && keyId !== key.id) ? undefined : key
    },
    drop: (tenant: string) => keys.delete(tenant),
  }
}

function pipelineWith(
  provider: (
    tenant: string,
    request: { keyId?: string },
  ) => TenantKey | undefined | Promise<TenantKey | undefined>,
) {
  const events: UnreadableEvent[] = []
  const pipeline = new SerializerPipeline({
    compression: { algorithm: 'gzip', thresholdBytes: 256 },
    encryption: { keys: provider },
    onUnreadable: (event) => events.push(event),
  })
  return { pipeline, events }
}

const big = {
  text: 'Zürich 東京 🚀 SECRET '.repeat(3000),
  bytes: randomBytes(2000),
  when: new Date(7),
  n: 12n,
}
const MAGIC = Buffer.from([0xc1, 0x63, 0x64])

function describeBackend(label: string, enabled: boolean, make: () => Backend) {
  describe.skipIf(!enabled)(`compression and per-tenant encryption on ${label}`, () => {
    const backend = enabled ? make() : (undefined as unknown as Backend)
    const opened: StorageProvider[] = []
    const open = (serializer: Serializer, name: string, forCache?: boolean) => {
      const storage = backend.open(serializer, name, forCache)
      opened.push(storage)
      return storage
    }
    afterAll(async () => {
      for (const storage of opened) await storage.close()
      await backend.close()
    })

    it('round-trips big, UTF-8 and binary values through every read and write path, stored compressed and encrypted', async () => {
      const name = uniqueName('enc')
      const { pipeline, events } = pipelineWith(keyStore('acme', 'beta').provider)
      const storage = open(pipeline, name)
      await storage.set(org('acme'), big, 60_000)
      const stored = (await backend.read(name, org('acme')))!
      expect(stored.subarray(0, 3)).toEqual(MAGIC)
      expect(stored.includes('SECRET')).toBe(false)
      expect(stored.length).toBeLessThan(new MsgpackSerializer().serialize(big).byteLength / 10)
      expect(await storage.get(org('acme'))).toEqual(big)
      expect(await storage.getWithExpiry!(org('acme'))).toMatchObject({ value: big })
      await storage.setMany!([
        { ref: org('beta'), value: 'ß'.repeat(5000), ttlMs: undefined },
        { ref: user('acme', 'u', 'small'), value: { a: [1, 'é'] }, ttlMs: 60_000 },
        { ref: { scope: [], key: 'global' }, value: 'unscoped', ttlMs: undefined },
      ])
      const refs = [
        org('acme'),
        org('beta'),
        user('acme', 'u', 'small'),
        org('nobody'),
        { scope: [], key: 'global' },
      ]
      const values = ['ß'.repeat(5000), { a: [1, 'é'] }, MISS, 'unscoped']
      expect(await storage.getMany!(refs)).toEqual([big, ...values])
      const entries = await storage.getManyWithExpiry!(refs)
      expect(entries.map((e) => (e === MISS ? MISS : e.value))).toEqual([big, ...values])
      expect(await storage.list!(org('acme').scope)).toEqual([['report', big]])
      if (storage.fence !== undefined && storage.setFenced !== undefined) {
        const fence = await storage.fence(org('beta', 'fenced'))
        expect(await storage.setFenced(org('beta', 'fenced'), big, undefined, fence)).toBe(true)
        expect(await storage.get(org('beta', 'fenced'))).toEqual(big)
      }
      expect(events).toEqual([])
    })

    it('crypto-shreds: a dropped tenant key makes its data a miss (counted, an event), other tenants unaffected', async () => {
      const name = uniqueName('shred')
      const keys = keyStore('acme', 'beta')
      const { pipeline, events } = pipelineWith(keys.provider)
      const storage = open(pipeline, name, true)
      const cache = new Cache({ scopes, storage })
      const acme = { scope: 'organization', orgId: 'acme' } as const
      const beta = { scope: 'organization', orgId: 'beta' } as const
      await cache.set('report', big, acme)
      await cache.set('report', 'beta report', beta)
      await cache.set('cart', ['book'], { scope: 'user', orgId: 'acme', userId: 'u' })
      expect(await cache.get('report', acme)).toEqual(big)
      keys.drop('acme')
      expect(await cache.get('report', acme)).toBeUndefined()
      expect(await cache.get('cart', { scope: 'user', orgId: 'acme', userId: 'u' })).toBeUndefined()
      expect(await cache.get('report', beta)).toBe('beta report')
      expect(await storage.getMany!([org('acme'), org('beta')])).toEqual([MISS, 'beta report'])
      expect(await storage.getWithExpiry!(org('acme'))).toBe(MISS)
      expect(await storage.list!(org('acme').scope)).toEqual([])
      expect(pipeline.stats().unreadable['no-key']).toBeGreaterThanOrEqual(5)
      expect(events.every((e) => e.reason === 'no-key' && e.entry.scope[0]!.id === 'acme')).toBe(true)
      // A tenant without a key cannot write; nothing is stored for it.
      await expect(cache.set('new', 1, acme)).rejects.toBeInstanceOf(SerializationError)
      expect(await backend.read(name, org('acme', 'new'))).toBeNull()
      // A getOrSet for a shredded tenant still answers from its factory (the refused write is reported, not thrown).
      expect(await cache.getOrSet('report', () => 'fresh', acme)).toBe('fresh')
      await cache.close()
    })

    it('reads values written before compression and encryption were switched on, plain bytes that look like a frame included', async () => {
      const name = uniqueName('legacy')
      const plain = open(new MsgpackSerializer(), name)
      await plain.set(org('acme'), big, undefined)
      await plain.set({ scope: [], key: 'g' }, new Map([[1, 2]]), undefined)
      const { pipeline, events } = pipelineWith(keyStore('acme').provider)
      const upgraded = open(pipeline, name)
      expect(await upgraded.get(org('acme'))).toEqual(big)
      expect(await upgraded.getMany!([org('acme'), { scope: [], key: 'g' }])).toEqual([
        big,
        new Map([[1, 2]]),
      ])
      // A custom serializer that stores bytes as they are, with a value that starts with the magic.
      const rawSerializer: Serializer = {
        name: 'raw',
        serialize: (value) => value as Uint8Array,
        deserialize: (bytes) => Buffer.from(bytes),
      }
      const lookalike = Buffer.concat([MAGIC, Buffer.from([1, 0x0f, 9, 9])])
      const rawName = uniqueName('raw')
      await open(rawSerializer, rawName).set(org('acme', 'x'), lookalike, undefined)
      const rawPipeline = new SerializerPipeline({
        serializer: rawSerializer,
        compression: 'gzip',
        encryption: { keys: keyStore('acme').provider },
      })
      const reader = open(rawPipeline, rawName)
      expect(await reader.get(org('acme', 'x'))).toEqual(lookalike)
      await reader.set(org('acme', 'y'), lookalike, undefined)
      expect(await reader.get(org('acme', 'y'))).toEqual(lookalike)
      expect(events).toEqual([])
    })

    it('reads tampered ciphertext, and a value copied under another tenant or key, as a miss', async () => {
      const name = uniqueName('tamper')
      const { pipeline, events } = pipelineWith(keyStore('acme', 'beta').provider)
      const storage = open(pipeline, name)
      await storage.set(org('acme'), big, undefined)
      await storage.set(org('acme', 'other'), 'x', undefined)
      await storage.set(org('beta'), 'beta', undefined)
      const bytes = (await backend.read(name, org('acme')))!
      await backend.write(name, org('beta'), bytes)
      await backend.write(name, org('acme', 'other'), bytes)
      expect(await storage.get(org('beta'))).toBe(MISS)
      expect(await storage.get(org('acme', 'other'))).toBe(MISS)
      for (const at of [5, 20, bytes.length >> 1, bytes.length - 1]) {
        const tampered = Buffer.from(bytes)
        tampered[at]! ^= 0x01
        await backend.write(name, org('acme'), tampered)
        expect(await storage.get(org('acme'))).toBe(MISS)
      }
      await backend.write(name, org('acme'), bytes.subarray(0, 12))
      expect(await storage.get(org('acme'))).toBe(MISS)
      await backend.write(name, org('acme'), bytes)
      expect(await storage.get(org('acme'))).toEqual(big)
      expect(events.map((e) => e.reason)).toEqual([
        'tampered',
        'tampered',
        'tampered',
        'tampered',
        'tampered',
        'tampered',
        'corrupt',
      ])
    })

    it('turns a key provider that throws or rejects into misses and events on reads, and refused writes (nothing stored)', async () => {
      const name = uniqueName('faulty')
      const keys = keyStore('acme')
      await open(pipelineWith(keys.provider).pipeline, name).set(org('acme'), 'v', undefined)
      for (const fault of ['throw', 'reject'] as const) {
        const { pipeline, events } = pipelineWith(() => {
          if (fault === 'throw') throw new Error('kms unreachable')
          return Promise.reject(new Error('kms unreachable'))
        })
        const storage = open(pipeline, name)
        expect(await storage.get(org('acme'))).toBe(MISS)
        expect(await storage.getMany!([org('acme')])).toEqual([MISS])
        expect(events.map((e) => e.reason)).toEqual(['key-error', 'key-error'])
        await expect(storage.set(org('acme', 'w'), 1, undefined)).rejects.toThrow(
          /key provider failed for tenant "acme": kms unreachable/,
        )
        expect(await backend.read(name, org('acme', 'w'))).toBeNull()
      }
      // A key of the wrong length: a ConfigurationError that says so, nothing written.
      const short = open(pipelineWith(() => ({ id: 'k1', key: randomBytes(16) })).pipeline, name)
      await expect(short.set(org('acme', 'w'), 1, undefined)).rejects.toBeInstanceOf(ConfigurationError)
      await expect(short.set(org('acme', 'w'), 1, undefined)).rejects.toThrow(
        /16 bytes; AES-256-GCM needs exactly 32 bytes/,
      )
      expect(await backend.read(name, org('acme', 'w'))).toBeNull()
      expect(await short.get(org('acme'))).toBe(MISS)
    })

    it("keeps a tenant's writes in order with an asynchronous key provider (50 runs)", async () => {
      const name = uniqueName('order')
      const keys = keyStore('acme')
      const { pipeline } = pipelineWith(async (tenant, request) => {
        await new Promise((r) => setTimeout(r, Math.random() * 2))
        return keys.provider(tenant, request)
      })
      const storage = open(pipeline, name)
      for (let run = 0; run < 50; run++) {
        const ref = org('acme', `k${run % 5}`)
        await Promise.all(Array.from({ length: 10 }, (_, i) => storage.set(ref, [run, i], undefined)))
        expect(await storage.get(ref)).toEqual([run, 9])
      }
    })
  })
}

describeBackend('a standalone Redis', redisUrl !== undefined, () =>
  redisBackend(
    new Redis(redisUrl!),
    (prefix, serializer) => new RedisStorage({ url: redisUrl!, prefix, serializer }),
  ),
)
describeBackend('a Redis Cluster', redisClusterNodes !== undefined, () =>
  redisBackend(
    new Cluster(redisClusterNodes!),
    (prefix, serializer) => new RedisStorage({ cluster: redisClusterNodes!, prefix, serializer }),
  ),
)
describeBackend('FerretDB (MongoDB wire)', mongoUrl !== undefined, () => mongoBackend())

/**
 * The whole storage contract holds with the pipeline in place (compression at 64 bytes, encryption with
 * an asynchronous key provider, so every write and read takes the asynchronous path).
 */
function conformancePipeline(): SerializerPipeline {
  const keys = new Map<string, Uint8Array>()
  return new SerializerPipeline({
    compression: { algorithm: 'gzip', thresholdBytes: 64 },
    encryption: {
      keys: async (tenant) => {
        await Promise.resolve()
        if (!keys.has(tenant)) keys.set(tenant, randomBytes(32))
        return keys.get(tenant)
      },
    },
  })
}
describe.skipIf(redisUrl === undefined)('RedisStorage with SerializerPipeline', () => {
  describeStorageConformance('redis (standalone) + compression + encryption', {
    create: () =>
      new RedisStorage({ url: redisUrl!, prefix: uniqueName('confenc'), serializer: conformancePipeline() }),
    propertyRuns: 10,
  })
})
describe.skipIf(mongoUrl === undefined)('MongoDBStorage with SerializerPipeline', () => {
  describeStorageConformance('mongodb + compression + encryption', {
    create: () =>
      new MongoDBStorage({
        url: mongoUrl!,
        dbName: 'cacheado_test',
        collectionName: uniqueName('confenc'),
        serializer: conformancePipeline(),
        // 10k entries in one call, each compressed and encrypted, on a shared 2-core test machine.
        operationTimeoutMs: 30_000,
      }),
    propertyRuns: 10,
  })
})
