/**
 * Heap per entry of one library, measured in a process of its own so that heaps do not mix:
 * `node --expose-gc --import tsx bench/heap-child.ts <lib>` prints one JSON line (a {@link HeapReport}).
 *
 * Memory is read with `process.memoryUsage()` after two forced collections, once before the cache is
 * built (so preallocations count) and once after 1,000,000 inserts.
 */
import { pathToFileURL } from 'node:url'
import { Cache, LRUEvict } from '../src/index.js'
import { newBento, newCacheableMemory, newLru, newOurs } from './peers.js'

/** The libraries (and cacheado variants) the heap scenario measures, in report order. */
export const HEAP_LIBS = [
  'cacheado-user-lru',
  'cacheado-user-lru-bytes',
  'cacheado-user',
  'cacheado-global-lru',
  'lru-cache',
  'map',
  'bentocache',
  'cacheable-memory',
] as const

/** One of {@link HEAP_LIBS}. */
export type HeapLib = (typeof HEAP_LIBS)[number]

/** What the child prints. */
export interface HeapReport {
  readonly lib: HeapLib
  readonly label: string
  readonly entries: number
  /** heapUsed growth divided by entries. */
  readonly heapBytesPerEntry: number
  /** (heapUsed + arrayBuffers) growth divided by entries. */
  readonly totalBytesPerEntry: number
  readonly insertMs: number
}

const ORGS = 1000
const USERS = 100
const KEYS = 10
const ENTRIES = ORGS * USERS * KEYS

const LABELS: Record<HeapLib, string> = {
  'cacheado-user-lru': 'cacheado, user scope, LRUEvict 1M',
  'cacheado-user-lru-bytes': 'cacheado, user scope, LRUEvict 1M + maxBytes 1 TiB',
  'cacheado-user': 'cacheado, user scope, no rules',
  'cacheado-global-lru': 'cacheado, global scope (flat key), LRUEvict 1M',
  'lru-cache': 'lru-cache, max 1M',
  map: 'Map',
  bentocache: 'bentocache memory, maxItems 1M',
  'cacheable-memory': 'cacheable CacheableMemory, lruSize 1M',
}

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  gc()
}

/** Calls `put(orgId, userId, key, value)` for every entry; ids and keys are built here, per entry. */
async function fill(
  put: (orgId: string, userId: string, key: string, value: number) => unknown,
): Promise<void> {
  let n = 0
  for (let o = 0; o < ORGS; o++) {
    for (let u = 0; u < USERS; u++) {
      for (let k = 0; k < KEYS; k++) {
        const pending = put(`o${o}`, `u${o * USERS + u}`, `k${k}`, n++)
        if (pending instanceof Promise) await pending
      }
    }
  }
}

/** Builds the cache of `lib`, fills it, and returns it (so it stays reachable while measuring). */
async function build(lib: HeapLib): Promise<unknown> {
  switch (lib) {
    case 'cacheado-user-lru-bytes': {
      const cache = new Cache({ rules: [new LRUEvict({ maxItems: ENTRIES, maxBytes: 2 ** 40 })] })
      await fill((orgId, userId, key, value) => cache.setSync(key, value, { scope: 'user', orgId, userId }))
      return cache
    }
    case 'cacheado-user-lru':
    case 'cacheado-user': {
      const cache = newOurs(lib === 'cacheado-user-lru' ? ENTRIES : undefined)
      await fill((orgId, userId, key, value) => cache.setSync(key, value, { scope: 'user', orgId, userId }))
      return cache
    }
    case 'cacheado-global-lru': {
      const cache = newOurs(ENTRIES)
      await fill((orgId, userId, key, value) => cache.setSync(`${orgId}:${userId}:${key}`, value))
      return cache
    }
    case 'lru-cache': {
      const cache = newLru<number>(ENTRIES)
      await fill((orgId, userId, key, value) => cache.set(`${orgId}:${userId}:${key}`, value))
      return cache
    }
    case 'map': {
      const cache = new Map<string, number>()
      await fill((orgId, userId, key, value) => cache.set(`${orgId}:${userId}:${key}`, value))
      return cache
    }
    case 'bentocache': {
      const cache = newBento(ENTRIES)
      await fill((orgId, userId, key, value) => cache.set({ key: `${orgId}:${userId}:${key}`, value }))
      return cache
    }
    case 'cacheable-memory': {
      const cache = newCacheableMemory(ENTRIES)
      await fill((orgId, userId, key, value) => cache.set(`${orgId}:${userId}:${key}`, value))
      return cache
    }
  }
}

async function main(lib: string): Promise<void> {
  if (!(HEAP_LIBS as readonly string[]).includes(lib)) {
    throw new Error(`unknown lib ${JSON.stringify(lib)}; one of: ${HEAP_LIBS.join(', ')}`)
  }
  const which = lib as HeapLib
  gcNow()
  const before = process.memoryUsage()
  const t0 = performance.now()
  const cache = await build(which)
  const insertMs = performance.now() - t0
  gcNow()
  const after = process.memoryUsage()
  const heap = after.heapUsed - before.heapUsed
  const total = heap + after.arrayBuffers - before.arrayBuffers
  const report: HeapReport = {
    lib: which,
    label: LABELS[which],
    entries: ENTRIES,
    heapBytesPerEntry: heap / ENTRIES,
    totalBytesPerEntry: total / ENTRIES,
    insertMs,
  }
  // Keep the cache reachable until after the measurement.
  if (cache === null) throw new Error('unreachable')
  process.stdout.write(`${JSON.stringify(report)}\n`)
  if (which === 'bentocache') await (cache as { disconnect(): Promise<void> }).disconnect()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? '').catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
