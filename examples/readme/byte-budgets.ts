// docs/guide/byte-budgets.md: a byte budget per tenant, an entry too large for it, and the bytes in stats.
import { Cache, EntryTooLargeError, LRUEvict, ScopeConfig, ScopeLevel } from 'cacheado'

export function main(log: (line: string) => void = console.log) {
  // #region byte-budgets
  const scopes = new ScopeConfig([new ScopeLevel('organization', 'orgId')])
  const cache = new Cache({
    scopes,
    rules: [
      new LRUEvict({ maxBytes: 64 * 1024, per: 'organization' }), // each tenant: at most 64 KiB
      new LRUEvict({ maxItems: 100_000 }), // and at most 100 000 entries in all
    ],
  })
  const acme = { scope: 'organization', orgId: 'acme' } as const
  const globex = { scope: 'organization', orgId: 'globex' } as const

  cache.setSync('flags', { beta: true }, globex)
  for (let i = 0; i < 1000; i++) cache.setSync(`report:${i}`, 'x'.repeat(1000), acme) // ~2 KiB each
  cache.getSync('flags', globex) // { beta: true }: acme's reports evicted acme's own entries only

  try {
    cache.setSync('export', 'x'.repeat(100_000), acme) // ~200 KiB: larger than the whole budget
  } catch (error) {
    if (error instanceof EntryTooLargeError) log(`${error.size} > ${error.maxBytes}: not stored`)
  }

  const { bytes } = cache.statsSync()
  // bytes: { total: 65_xxx, top: [{ scope: [{ level: 'organization', id: 'acme' }], bytes: 63_xxx }, ...] }
  // #endregion

  for (const t of bytes!.top) log(`${t.scope[0]?.id ?? 'global'}: ${t.bytes} bytes`)
  return { bytes: bytes!, flags: cache.getSync('flags', globex), reports: cache.statsSync().totalKeys }
}
