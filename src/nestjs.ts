/**
 * `cacheado/nestjs`: `CacheadoModule.forRoot({ cache | options, scope })` provides the cache (token
 * {@link CACHEADO}) and sets each call's ambient scope with a global interceptor. `@cache.cache()`
 * decorates methods under `experimentalDecorators` (NestJS's default) as well as TC39 decorators.
 * `@nestjs/common`, `@nestjs/core` and `rxjs` are optional peers.
 */
export { CACHEADO, CacheadoInterceptor, CacheadoModule } from './frameworks/nestjs.js'
export type { CacheadoModuleOptions, NestScopeResolver } from './frameworks/nestjs.js'
