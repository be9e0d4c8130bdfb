import { ConfigurationError } from '../errors.js'

/** Options of the opt-in response caches of `cacheado/express` and `cacheado/fastify`. */
export interface ResponseCacheOptions<Level extends string = string> {
  /**
   * The scope level responses are stored under, with the parameters of the ambient scope (the request's
   * tenant): `'organization'` shares a response among an organization's users, `'user'` keeps it per
   * user. Required: a response cache never falls back to a global entry.
   */
  readonly scope: Level
  /** Time to live of each response, in seconds. Default: the cache's default, or none. */
  readonly ttlSeconds?: number
}

/** A response as stored: status, content type and the body's bytes. */
export interface CachedResponse {
  /** The HTTP status (200: only those are stored). */
  readonly status: number
  /** The `Content-Type` header sent with it, if any. */
  readonly contentType: string | undefined
  /** The body's bytes, as text or base64 (see `encoding`). */
  readonly body: string
  /** How `body` holds the bytes: as text, or base64 for binary bodies. */
  readonly encoding: 'utf8' | 'base64'
}

/**
 * The cache key of a route's response: method and URL (path and query), `HEAD` sharing `GET`'s. Evict
 * one with `cache.evict(responseKey('GET', '/todos'), { scope: 'organization' })` inside the tenant's
 * ambient scope (or with its parameters).
 */
export function responseKey(method: string, url: string): string {
  return `http:${method === 'HEAD' ? 'GET' : method} ${url}`
}

/** The header that tells whether a response came from the cache: `hit` or `miss`. */
export const CACHE_STATUS_HEADER = 'x-cacheado'

/** Whether a request's response may be looked up and stored: GET and HEAD only. */
export const isCacheableMethod = (method: string): boolean => method === 'GET' || method === 'HEAD'

/**
 * Whether a response may be stored: a 200 whose headers neither set a cookie nor forbid storing it
 * (`Cache-Control: no-store` or `private`).
 */
export function isStorable(status: number, header: (name: string) => unknown): boolean {
  if (status !== 200 || header('set-cookie') !== undefined) return false
  const control = header('cache-control')
  return typeof control !== 'string' || !/\b(no-store|private)\b/i.test(control)
}

/** The stored form of a body, or `undefined` for one that is not text or bytes (a stream). */
export function toCached(status: number, contentType: unknown, body: unknown): CachedResponse | undefined {
  const type = typeof contentType === 'string' ? contentType : undefined
  if (typeof body === 'string') return { status, contentType: type, body, encoding: 'utf8' }
  if (body instanceof Uint8Array) {
    return { status, contentType: type, body: Buffer.from(body).toString('base64'), encoding: 'base64' }
  }
  return undefined
}

/** The body of a stored response as it is sent again. */
export const bodyOf = (cached: CachedResponse): string | Buffer =>
  cached.encoding === 'base64' ? Buffer.from(cached.body, 'base64') : cached.body

/** Whether a stored value is a {@link CachedResponse} (anything else under the key is ignored). */
export function isCachedResponse(value: unknown): value is CachedResponse {
  const v = value as Partial<CachedResponse> | null | undefined
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.status === 'number' &&
    typeof v.body === 'string' &&
    (v.encoding === 'utf8' || v.encoding === 'base64')
  )
}

/** Checks a response cache's options when the middleware or plugin is created. */
export function checkResponseCacheOptions(options: unknown, levels: readonly string[], where: string): void {
  const o = options as Partial<ResponseCacheOptions> | null
  if (o === null || typeof o !== 'object' || typeof o.scope !== 'string' || !levels.includes(o.scope)) {
    throw new ConfigurationError(
      `${where} needs { scope } naming a scope level of the cache (${levels.join(', ')}); responses are never cached globally`,
    )
  }
  if (o.ttlSeconds !== undefined && (typeof o.ttlSeconds !== 'number' || !(o.ttlSeconds > 0))) {
    throw new ConfigurationError(`${where}: ttlSeconds must be a positive number of seconds`)
  }
}
