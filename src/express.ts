/**
 * `cacheado/express`: middleware that sets the ambient scope of each request from a resolver, and an
 * opt-in response cache keyed by route and ambient scope. Express (4 or 5) is an optional peer.
 *
 * ```ts
 * import { cacheadoScope, cacheResponse } from 'cacheado/express'
 * app.use(cacheadoScope(cache, (req) => ({ orgId: req.get('x-org-id') })))
 * app.get('/reports', cacheResponse(cache, { scope: 'organization', ttlSeconds: 30 }), handler)
 * ```
 */
export { cacheadoScope, cacheResponse } from './frameworks/express.js'
export type { ExpressResponse, NextFunction, ScopeResolver } from './frameworks/express.js'
export { CACHE_STATUS_HEADER, responseKey } from './frameworks/response-cache.js'
export type { CachedResponse, ResponseCacheOptions } from './frameworks/response-cache.js'
