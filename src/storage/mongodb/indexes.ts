import type { Collection, IndexDescription } from 'mongodb'
import { MongoServerError } from 'mongodb'
import type { BoundPolicy } from '../contract.js'
import type { EntryDocument } from './document.js'

/** Name of the TTL index that lets the server itself delete expired documents. */
export const TTL_INDEX = 'cacheado_expiresAt_ttl'
/** Name of the plain index on `expiresAt`, used where the server refuses TTL indexes. */
export const EXPIRY_INDEX = 'cacheado_expiresAt'

/**
 * Server error codes meaning "this server does not do TTL indexes" (238 NotImplemented, as FerretDB
 * answers; 115 CommandNotSupported), or "an index on expiresAt with other options is already there"
 * (85 IndexOptionsConflict, 86 IndexKeySpecsConflict), which we keep rather than fight over.
 */
const TTL_REFUSED = new Set([238, 115])
const ALREADY_INDEXED = new Set([85, 86])

/** The indexes every cacheado collection needs, plus those the bounds sort by. */
export function indexesFor(bounds: readonly BoundPolicy[]): IndexDescription[] {
  const specs: IndexDescription[] = [
    { key: { scopes: 1 }, name: 'cacheado_scopes' },
    // Multikey index of entry tags (see tags.ts): invalidateTags costs O(entries carrying them).
    { key: { tags: 1 }, name: 'cacheado_tags' },
  ]
  const seen = new Set<string>()
  for (const bound of bounds) {
    const field = bound.order === 'lru' ? 'accessedAt' : 'createdAt'
    const scoped = bound.per !== undefined
    const name = `cacheado_${scoped ? 'scopes_' : ''}${field}`
    if (seen.has(name)) continue
    seen.add(name)
    specs.push({ key: scoped ? { scopes: 1, [field]: 1, _id: 1 } : { [field]: 1, _id: 1 }, name })
  }
  return specs
}

/** What {@link ensureIndexes} found out about TTL support. */
export type TtlSupport = 'ttl-index' | 'refused' | 'existing-index'

/**
 * Creates the collection's indexes that are missing, then the TTL index on `expiresAt`. Where the
 * server refuses TTL indexes it creates a plain index instead and resolves `'refused'`; reads filter on
 * `expiresAt` and the sweeper deletes expired documents either way, so expiry stays exact.
 *
 * Idempotent and safe when several processes start together: existing indexes are listed first and
 * not created again, and one failed attempt (another process creating the same indexes at the same
 * moment can make a server drop the connection) is retried once after a short pause. Any other failure
 * rejects; the caller retries on its next operation.
 */
export async function ensureIndexes(
  collection: Collection<EntryDocument>,
  bounds: readonly BoundPolicy[],
): Promise<TtlSupport> {
  try {
    return await createMissing(collection, bounds)
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100))
    return createMissing(collection, bounds)
  }
}

async function createMissing(
  collection: Collection<EntryDocument>,
  bounds: readonly BoundPolicy[],
): Promise<TtlSupport> {
  const existing = await existingIndexNames(collection)
  const missing = indexesFor(bounds).filter((spec) => !existing.has(spec.name!))
  if (missing.length !== 0) await collection.createIndexes(missing)
  if (existing.has(TTL_INDEX)) return 'ttl-index'
  if (existing.has(EXPIRY_INDEX)) return 'refused'
  try {
    await collection.createIndex({ expiresAt: 1 }, { name: TTL_INDEX, expireAfterSeconds: 0 })
    return 'ttl-index'
  } catch (error) {
    if (!(error instanceof MongoServerError) || typeof error.code !== 'number') throw error
    if (ALREADY_INDEXED.has(error.code)) return 'existing-index'
    if (!TTL_REFUSED.has(error.code)) throw error
  }
  await collection.createIndex({ expiresAt: 1 }, { name: EXPIRY_INDEX })
  return 'refused'
}

/** Names of the collection's indexes; none when the collection does not exist yet (code 26). */
async function existingIndexNames(collection: Collection<EntryDocument>): Promise<Set<string>> {
  try {
    const indexes = await collection.listIndexes().toArray()
    return new Set(indexes.map((index) => String(index.name)))
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 26) return new Set()
    throw error
  }
}
