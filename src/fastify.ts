/**
 * `cacheado/fastify`: a Fastify plugin that sets the ambient scope of each request from a resolver, and
 * an opt-in response cache (per route `config`) keyed by route and ambient scope. Fastify 5 is an
 * optional peer.
 *
 * ```ts
 * import { cacheadoFastify } from 'cacheado/fastify'
 * await app.register(cacheadoFastify(cache, { scope: (req) => ({ orgId: req.headers['x-org-id'] as string }) }))
 * ```
 */
export { cacheadoFastify } from './frameworks/fastify.js'
export type { CacheadoFastifyOptions } from './frameworks/fastify.js'
export { CACHE_STATUS_HEADER, responseKey } from './frameworks/response-cache.js'
export type { CachedResponse, ResponseCacheOptions } from './frameworks/response-cache.js'
