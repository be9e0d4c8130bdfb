import type {
  CallHandler,
  DynamicModule,
  ExecutionContext,
  NestInterceptor,
  OnApplicationShutdown,
} from '@nestjs/common'
import { APP_INTERCEPTOR } from '@nestjs/core'
import { Observable } from 'rxjs'
import type { Subscription } from 'rxjs'
import type { CacheOptions } from '../cache.js'
import { Cache } from '../cache.js'
import { ConfigurationError } from '../errors.js'
import type { ScopeConfig } from '../scopes/scope-config.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { AmbientScopeParams } from '../scopes/types.js'
import type { StorageProvider } from '../storage/contract.js'

/** Whether `value` is a cache (by shape: the ESM and CommonJS builds each have their own class). */
const isCache = (value: unknown): boolean =>
  typeof (value as Partial<Cache> | null)?.runInScope === 'function'

/**
 * The injection token of the module's cache: `constructor(@Inject(CACHEADO) cache: Cache)`. A global
 * symbol, so that every copy of this module (ESM and CommonJS) means the same provider.
 */
export const CACHEADO: unique symbol = Symbol.for('cacheado.Cache') as never

/**
 * Answers a call's scope parameters from its execution context (for HTTP,
 * `context.switchToHttp().getRequest()`), or `undefined` for a call without a tenant (its scoped cache
 * calls then fail with a `ScopeError`). May be async; an error fails the call.
 */
export type NestScopeResolver<SC> = (
  context: ExecutionContext,
) => AmbientScopeParams<SC> | undefined | Promise<AmbientScopeParams<SC> | undefined>

/**
 * Options of {@link CacheadoModule.forRoot}: the cache to provide (or the options to create one, which
 * the module then closes when the application shuts down), and the resolver of the global
 * {@link CacheadoInterceptor}.
 */
export type CacheadoModuleOptions<
  SC extends ScopeConfig<readonly ScopeLevelShape[]>,
  St extends StorageProvider,
> = (
  | { readonly cache: Cache<SC, St>; readonly options?: never }
  | { readonly options: CacheOptions<SC, St>; readonly cache?: never }
) & {
  /** Sets the ambient scope of every call (a global interceptor); without it, no interceptor is added. */
  readonly scope?: NestScopeResolver<SC>
}

/**
 * A NestJS interceptor that runs the handler (and the interceptors, pipes and handler after it) in the
 * ambient scope `resolve(context)` answers, as `cache.runInScope` does. `CacheadoModule.forRoot({ scope })`
 * installs it globally; it can be used per controller too (`@UseInterceptors(new CacheadoInterceptor(...))`).
 * Guards run before interceptors, so they do not see the ambient scope.
 */
export class CacheadoInterceptor<
  SC extends ScopeConfig<readonly ScopeLevelShape[]>,
> implements NestInterceptor {
  readonly #cache: Cache<SC, StorageProvider>
  readonly #resolve: NestScopeResolver<SC>

  constructor(cache: Cache<SC, StorageProvider>, resolve: NestScopeResolver<SC>) {
    if (!isCache(cache) || typeof resolve !== 'function') {
      throw new ConfigurationError(
        'new CacheadoInterceptor(cache, resolve): a Cache and a function (context) => scope params',
      )
    }
    this.#cache = cache
    this.#resolve = resolve
  }

  /** Subscribes to the rest of the call inside the ambient scope of `context`. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      let subscription: Subscription | undefined
      let closed = false
      const run = (params: AmbientScopeParams<SC> | undefined) => {
        if (closed) return
        const subscribe = () => {
          subscription = next.handle().subscribe(subscriber)
        }
        if (params === undefined) subscribe()
        else this.#cache.runInScope(params, subscribe)
      }
      try {
        const params = this.#resolve(context)
        if (params instanceof Promise) params.then(run).catch((error: unknown) => subscriber.error(error))
        else run(params)
      } catch (error) {
        subscriber.error(error)
      }
      return () => {
        closed = true
        subscription?.unsubscribe()
      }
    })
  }
}

/**
 * The NestJS module of cacheado: `CacheadoModule.forRoot({ cache, scope })` provides the cache under
 * {@link CACHEADO} to every module (global), and with `scope` sets the ambient scope of every call.
 *
 * ```ts
 * @Module({ imports: [CacheadoModule.forRoot({ cache, scope: (ctx) => ({ orgId: tenantOf(ctx) }) })] })
 * export class AppModule {}
 * ```
 */
export class CacheadoModule {
  /** The module, global, with its providers. */
  static forRoot<SC extends ScopeConfig<readonly ScopeLevelShape[]>, St extends StorageProvider>(
    options: CacheadoModuleOptions<SC, St>,
  ): DynamicModule {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('CacheadoModule.forRoot({ cache } or { options }) expects an object')
    }
    const owned = options.cache === undefined
    if (!owned && !isCache(options.cache)) {
      throw new ConfigurationError('CacheadoModule.forRoot({ cache }): cache must be a Cache')
    }
    const cache = owned ? new Cache<SC, St>(options.options) : options.cache
    const providers: NonNullable<DynamicModule['providers']> = [{ provide: CACHEADO, useValue: cache }]
    if (options.scope !== undefined) {
      const interceptor = new CacheadoInterceptor(cache as Cache<SC, StorageProvider>, options.scope)
      providers.push({ provide: APP_INTERCEPTOR, useValue: interceptor })
    }
    if (owned) {
      const lifecycle: OnApplicationShutdown = { onApplicationShutdown: () => cache.close() }
      providers.push({ provide: Symbol('cacheado.lifecycle'), useValue: lifecycle })
    }
    return { module: CacheadoModule, global: true, providers, exports: [CACHEADO] }
  }
}
