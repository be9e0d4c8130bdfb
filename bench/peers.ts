/**
 * How the benchmark builds this library and its peers, in one place so that every scenario (and the
 * heap child) configures them alike.
 *
 * Peer configuration choices, all in the peers' favour where there is a choice:
 * - bentocache: memory L1 only, `serialize: false` (values kept by reference, as ours are; the default
 *   `true` would JSON-encode every value and be slower);
 * - cacheable: `useClone: false` (the default `true` deep-clones every value read); its default
 *   `storeHashSize` (16 maps, a hash of every key) is kept, and a tuned row with `storeHashSize: 1`
 *   is shown beside it where it matters;
 * - lru-cache: `max` only (no TTL tracking).
 */
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { Cacheable, CacheableMemory, createKeyv } from 'cacheable'
import { LRUCache } from 'lru-cache'
import { Cache, LRUEvict } from '../src/index.js'

/** Our cache over the default in-memory storage, bounded by `LRUEvict({ maxItems })` or unbounded. */
export function newOurs(maxItems: number | undefined): Cache {
  return maxItems === undefined ? new Cache() : new Cache({ rules: [new LRUEvict({ maxItems })] })
}

/** lru-cache bounded at `max` entries. */
export function newLru<V extends object | number>(max: number): LRUCache<string, V> {
  return new LRUCache<string, V>({ max })
}

/** The bentocache instance type used here (one memory store called `memory`). */
export type Bento = BentoCache<{ memory: ReturnType<typeof bentostore> }>

/** bentocache with a memory-only store of at most `maxItems` entries. */
export function newBento(maxItems: number): Bento {
  return new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems, serialize: false })) },
  })
}

/**
 * cacheable's synchronous in-memory cache, LRU-bounded at `lruSize` (0: unbounded). `storeHashSize`
 * left at its default (16 maps chosen by hashing each key) unless given; `1` skips the hashing.
 */
export function newCacheableMemory(lruSize: number, storeHashSize?: number): CacheableMemory {
  return new CacheableMemory({
    lruSize,
    useClone: false,
    ...(storeHashSize === undefined ? {} : { storeHashSize }),
  })
}

/** cacheable's `Cacheable` (async, keyv-based) over its in-memory primary, LRU-bounded at `lruSize`. */
export function newCacheable(lruSize: number): Cacheable {
  return new Cacheable({ primary: createKeyv({ lruSize, useClone: false }) })
}
