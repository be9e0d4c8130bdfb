import { AsyncResource } from 'node:async_hooks'
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from 'fastify'
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

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Opts a route into the response cache of `cacheado/fastify`. */
    cacheado?: ResponseCacheOptions
  }
}

/** Options of {@link cacheadoFastify}. */
export interface CacheadoFastifyOptions<SC> {
  /**
   * Answers a request's scope parameters (from a header, a JWT claim, the session), or `undefined` for
   * a request without a tenant (its scoped cache calls then fail with a `ScopeError`). May be async; an
   * error fails the request.
   */
  readonly scope: (
    request: FastifyRequest,
  ) => AmbientScopeParams<SC> | undefined | Promise<AmbientScopeParams<SC> | undefined>
}

/**
 * A Fastify plugin that runs each request (its later hooks and its handler) in the ambient scope
 * `options.scope(request)` answers (see `cache.runInScope`), and caches the responses of the routes that
 * opt in with `config: { cacheado: { scope: 'organization', ttlSeconds: 30 } }`, per route (method and
 * URL) and per ambient scope (`x-cacheado: hit` or `miss`). Only 200 responses of GET and HEAD are
 * stored, not those that set a cookie or say `Cache-Control: no-store` or `private`. It applies to the
 * whole instance it is registered on (not encapsulated).
 *
 * ```ts
 * await app.register(cacheadoFastify(cache, { scope: (req) => ({ orgId: req.headers['x-org-id'] as string }) }))
 * app.get('/reports', { config: { cacheado: { scope: 'organization', ttlSeconds: 30 } } }, handler)
 * ```
 */
export function cacheadoFastify<SC extends ScopeConfig<readonly ScopeLevelShape[]>>(
  cache: Cache<SC, StorageProvider>,
  options: CacheadoFastifyOptions<SC>,
): FastifyPluginCallback {
  if (options === null || typeof options !== 'object' || typeof options.scope !== 'function') {
    throw new ConfigurationError(
      'cacheadoFastify(cache, { scope }): scope must be a function (request) => scope params',
    )
  }
  const levels = cache.scopes.names.slice(1) as LevelName<SC>[]
  /** The async context of each request's ambient scope, to re-enter after Fastify reads the body. */
  const contexts = new WeakMap<FastifyRequest, AsyncResource>()
  /** The keys of the responses to store when they are sent. */
  const pending = new WeakMap<FastifyRequest, { key: string; options: ResponseCacheOptions }>()

  const onRequest: onRequestHookHandler = (request, _reply, done) => {
    let params: ReturnType<CacheadoFastifyOptions<SC>['scope']>
    try {
      params = options.scope(request)
    } catch (error) {
      done(error as Error)
      return
    }
    Promise.resolve(params).then((resolved) => {
      if (resolved === undefined) return done()
      let context: AsyncResource
      try {
        // An AsyncResource created inside the scope carries it: every later hook re-enters it.
        context = cache.runInScope(resolved, () => new AsyncResource('cacheado.request'))
      } catch (error) {
        return done(error as Error)
      }
      contexts.set(request, context)
      context.runInAsyncScope(done, undefined)
    }, done)
  }

  /** Re-enters the request's scope: the body is read on the socket's context, outside it. */
  const reenter = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const context = contexts.get(request)
    if (context === undefined) done()
    else context.runInAsyncScope(done, undefined)
  }

  const lookup = async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config.cacheado
    if (config === undefined || !isCacheableMethod(request.method)) return
    checkResponseCacheOptions(config, levels, `the cacheado config of ${request.routeOptions.url}`)
    const key = responseKey(request.method, request.url)
    const stored = await cache.get<CachedResponse>(key, { scope: config.scope } as never)
    if (isCachedResponse(stored)) {
      reply.code(stored.status).header(CACHE_STATUS_HEADER, 'hit')
      if (stored.contentType !== undefined) reply.header('content-type', stored.contentType)
      return reply.send(bodyOf(stored))
    }
    pending.set(request, { key, options: config })
    reply.header(CACHE_STATUS_HEADER, 'miss')
  }

  const store = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const entry = pending.get(request)
    if (entry === undefined) return payload
    pending.delete(request)
    const cached = toCached(reply.statusCode, reply.getHeader('content-type'), payload)
    if (cached !== undefined && isStorable(reply.statusCode, (name) => reply.getHeader(name))) {
      const write = { scope: entry.options.scope, ttlSeconds: entry.options.ttlSeconds }
      // A failed write costs a later miss, never this response.
      await cache.set(entry.key, cached, write as never).catch(() => undefined)
    }
    return payload
  }

  const plugin: FastifyPluginCallback = (app: FastifyInstance, _options, done) => {
    app.addHook('onRequest', onRequest)
    app.addHook('preValidation', reenter)
    app.addHook('preHandler', lookup)
    app.addHook('onSend', store)
    done()
  }
  // What fastify-plugin does: the hooks apply to the instance it is registered on, not a child context.
  const meta = plugin as unknown as Record<symbol, unknown>
  meta[Symbol.for('skip-override')] = true
  meta[Symbol.for('fastify.display-name')] = 'cacheado'
  return plugin
}
