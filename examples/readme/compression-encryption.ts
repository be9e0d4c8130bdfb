// Compression and per-tenant encryption on a shared backend (Redis here; MongoDB takes the same serializer).
import { randomBytes } from 'node:crypto'
import { Cache, SerializerPipeline } from 'cacheado'
import type { UnreadableEvent } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

export async function main(url = 'redis://127.0.0.1:6379') {
  const prefix = `crypto_example_${process.pid}`
  // #region pipeline
  // Your key store (a KMS, a database table...): one 32-byte key per organization, with an id.
  const tenantKeys = new Map([
    ['acme', { id: '2026-12', key: randomBytes(32) }],
    ['globex', { id: '2026-12', key: randomBytes(32) }],
  ])
  const unreadable: UnreadableEvent[] = []
  const serializer = new SerializerPipeline({
    compression: { algorithm: 'gzip', thresholdBytes: 1024 }, // 'brotli', or 'zstd' on Node 22.15+
    encryption: {
      // Called with the top-level tenant (first scope level below global) and, to read, the key id.
      keys: (orgId, { keyId }) => {
        const current = tenantKeys.get(orgId)
        return keyId === undefined || keyId === current?.id ? current : undefined
      },
    },
    onUnreadable: (event) => unreadable.push(event), // 'no-key', 'tampered', 'key-error', ...
  })
  const cache = new Cache({ storage: new RedisStorage({ url, prefix, serializer }) })

  const acme = { scope: 'organization', orgId: 'acme' } as const
  const globex = { scope: 'organization', orgId: 'globex' } as const
  await cache.set('report', { rows: Array.from({ length: 500 }, (_, i) => i) }, acme)
  await cache.set('report', { rows: [1, 2, 3] }, globex)

  // Crypto-shredding: drop acme's key and every copy of its data is unreadable (replicas, backups).
  tenantKeys.delete('acme')
  const gone = await cache.get('report', acme) // undefined: a miss, never an error
  const kept = await cache.get('report', globex) // { rows: [1, 2, 3] }
  // #endregion
  const reasons = unreadable.map((event) => event.reason)
  const stats = serializer.stats().unreadable
  await cache.clear()
  await cache.close()
  return { gone, kept, reasons, noKey: stats['no-key'] }
}
