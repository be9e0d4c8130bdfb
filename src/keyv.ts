/**
 * `cacheado/keyv`: a Keyv storage adapter over a cache, bound to one scope, for Keyv, cache-manager 7
 * and `@nestjs/cache-manager` (keyv 5 is an optional peer dependency; this entry does not import it).
 *
 * ```ts
 * import Keyv from 'keyv'
 * import { KeyvAdapter } from 'cacheado/keyv'
 * const keyv = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o1' }) })
 * ```
 */
export { KEYV_NAMESPACE_LEVEL, KeyvAdapter } from './keyv/adapter.js'
export type { KeyvScopeSelector } from './keyv/adapter.js'
