import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Cache, LevelName } from '../cache.js'
import { ConfigurationError } from '../errors.js'
import type { ScopeConfig } from '../scopes/scope-config.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { AmbientScopeParams } from '../scopes/types.js'
import type { StorageProvider } from '../storage/contract.js'
import type { CachedResponse, ResponseCacheOptions } from './response-cache.js'
import {
  bodyOf,
  CACHE_STATUS_HEADER,
  checkResponseCacheOptions,
  isCachedResponse,
  isCacheableMethod,
  isStorable,
  responseKey,
  toCached,
} from './response-cache.js'

/** Express's `next`: called with nothing to go on, with an error to fail the request. */
export type NextFunction = (error?: unknown) => void

/**
 * Answers a request's scope parameters (from a header, a JWT claim, the session), or `undefined` for a
 * request without a tenant (its scoped cache calls then fail with a `ScopeError`). May be async; an
 * error (thrown or rejected) fails the request through `next(error)`.
 */
export type ScopeResolver<SC, Req> = (
  request: Req,
) => AmbientScopeParams<SC> | undefined | Promise<AmbientScopeParams<SC> | undefined>

/** The part of Express's `Response` the response cache uses (Express 4 and 5 have it). */
export interface ExpressResponse extends ServerResponse {
  /** Sends a body (`res.json` calls it with the serialized text). */
  send(body?: unknown): unknown
  /** Sets the status code. */
  status(code: number): unknown
}

/**
 * Express middleware that runs the rest of the request (every later middleware and the handler) in the
 * ambient scope `resolve(request)` answers (see `cache.runInScope`). Register it before the routes that
 * use the cache (before or after the body parsers: the scope survives reading the body).
 *
 * ```ts
 * app.use(cacheadoScope(cache, (req) => ({ orgId: req.get('x-org-id') })))
 * ```
 */
export function cacheadoScope<
  SC extends ScopeConfig<readonly ScopeLevelShape[]>,
  Req extends IncomingMessage = IncomingMessage,
>(
  cache: Cache<SC, StorageProvider>,
  resolve: ScopeResolver<SC, Req>,
): (request: Req, response: ServerResponse, next: NextFunction) => void {
  if (typeof resolve !== 'function') {
    throw new ConfigurationError(
      'cacheadoScope(cache, resolve): resolve must be a function (req) => scope params',
    )
  }
  return (request, _response, next) => {
    let params: ReturnType<ScopeResolver<SC, Req>>
    try {
      params = resolve(request)
    } catch (error) {
      next(error)
      return
    }
    if (params instanceof Promise) {
      params.then((resolved) => enter(cache, resolved, next), next)
    } else enter(cache, params, next)
  }
}

function enter<SC extends ScopeConfig<readonly ScopeLevelShape[]>>(
  cache: Cache<SC, StorageProvider>,
  params: AmbientScopeParams<SC> | undefined,
  next: NextFunction,
): void {
  if (params === undefined) return next()
  let entered = false
  try {
    cache.runInScope(params, () => {
      entered = true
      next()
    })
  } catch (error) {
    // A bad parameter (ScopeError) fails this request only; an error thrown by a later middleware is
    // Express's to handle (it catches what its layers throw), so it is re-thrown as it came.
    if (entered) throw error
    next(error)
  }
}

/**
 * Express middleware caching the responses of the routes after it, per route (method and URL) and per
 * ambient scope: a GET or HEAD whose response is stored is answered from the cache (`x-cacheado: hit`),
 * else the route runs and its 200 response sent with `res.send`/`res.json` is stored
 * (`x-cacheado: miss`). Responses that set a cookie or say `Cache-Control: no-store` or `private` are
 * not stored. It needs the ambient scope: use it after {@link cacheadoScope}; without one, a cacheable
 * request fails with a `ScopeError` (a response is never cached globally).
 *
 * ```ts
 * app.get('/reports', cacheResponse(cache, { scope: 'organization', ttlSeconds: 30 }), handler)
 * ```
 */
export function cacheResponse<SC extends ScopeConfig<readonly ScopeLevelShape[]>>(
  cache: Cache<SC, StorageProvider>,
  options: ResponseCacheOptions<LevelName<SC>>,
): (request: IncomingMessage, response: ExpressResponse, next: NextFunction) => void {
  checkResponseCacheOptions(options, cache.scopes.names.slice(1), 'cacheResponse(cache, options)')
  const scope = { scope: options.scope } as unknown as Parameters<Cache<SC, StorageProvider>['get']>[1]
  const write = { scope: options.scope, ttlSeconds: options.ttlSeconds } as unknown as Parameters<
    Cache<SC, StorageProvider>['set']
  >[2]
  return (request, response, next) => {
    const method = request.method ?? 'GET'
    if (!isCacheableMethod(method)) return next()
    const key = responseKey(method, (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/')
    cache.get<CachedResponse>(key, scope).then((stored) => {
      if (isCachedResponse(stored)) return replay(response, stored)
      response.setHeader(CACHE_STATUS_HEADER, 'miss')
      const send = response.send
      response.send = function sendAndStore(this: ExpressResponse, body?: unknown) {
        const cached = toCached(response.statusCode, response.getHeader('content-type'), body)
        if (cached !== undefined) {
          // The final form of the body (res.json and res.send(object) call send again with text).
          response.send = send
          if (isStorable(response.statusCode, (name) => response.getHeader(name))) {
            // A failed write costs a later miss, never this response.
            cache.set(key, cached, write).catch(() => undefined)
          }
        }
        return send.call(this, body)
      }
      next()
    }, next)
  }
}

function replay(response: ExpressResponse, stored: CachedResponse): void {
  response.status(stored.status)
  if (stored.contentType !== undefined) response.setHeader('content-type', stored.contentType)
  response.setHeader(CACHE_STATUS_HEADER, 'hit')
  response.send(bodyOf(stored))
}
