// The README's "Operations": the synchronous twins over the in-memory storage, and what each call answers.
import { Cache } from 'cacheado'

// #region operations
const cache = new Cache() // InMemory: every operation also has a synchronous twin

const ann = { scope: 'session', orgId: 'acme', userId: 'ann', sessionId: 's1' } as const
cache.setSync('draft', { text: '' }, { ...ann, ttlSeconds: 0.5 }) // fractions of a second are fine
cache.setSync('nothing', null, ann) // null and undefined are values: reading them is a hit
const draft = cache.getSync<{ text: string }>('draft', ann) // typed by you, not checked
const existed = cache.evictSync('draft', ann) // true: a live entry was removed
const cleared = cache.clearSync() // 1: how many entries were removed
const { hits, misses } = cache.counters() // no I/O: answers even while a storage is down
// #endregion

export const result = { draft, existed, cleared, hits, misses }
