// The README's "TinyLFU": frequency-aware eviction keeps a hot set through a scan that flushes LRU.
// #region tinylfu
import { Cache, LRUEvict, TinyLFUEvict } from 'cacheado'

const tiny = new Cache({ rules: [new TinyLFUEvict({ maxItems: 100 })] })
const lru = new Cache({ rules: [new LRUEvict({ maxItems: 100 })] })

for (const cache of [tiny, lru]) {
  const readThrough = (key: string) => cache.getSync(key) ?? cache.setSync(key, key)
  for (let round = 0; round < 5; round++) for (let i = 0; i < 60; i++) readThrough(`hot:${i}`)
  for (let i = 0; i < 1_000; i++) readThrough(`report:${i}`) // a one-off export reads 1 000 keys once
}
const hotKept = (cache: Cache) =>
  Array.from({ length: 60 }, (_, i) => cache.getSync(`hot:${i}`)).filter(Boolean).length
console.log(hotKept(tiny), hotKept(lru)) // 60 0

// Per tenant, like LRUEvict: each user keeps at most 50 entries, chosen by frequency
const perUser = new Cache({ rules: [new TinyLFUEvict({ maxItems: 50, per: 'user' })] })
for (let i = 0; i < 200; i++) perUser.setSync(`doc:${i}`, i, { scope: 'user', orgId: 'acme', userId: 'ann' })
console.log(perUser.statsSync().totalKeys) // 50
// #endregion

export const result = { tiny: hotKept(tiny), lru: hotKept(lru), perUserKeys: perUser.statsSync().totalKeys }
await Promise.all([tiny.close(), lru.close(), perUser.close()])
