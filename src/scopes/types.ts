import type { ScopeId, ScopeLevelShape } from './scope-level.js'

/** The implicit root scope that holds every entry not stored under a named level. */
export type GlobalScope = 'global'

type ParamRecord<P extends string> = { readonly [K in P]: ScopeId }

/** Every level of a tree, with the parameters its path requires (its own and its ancestors'). */
export type LevelEntries<L, Acc = unknown> = L extends ScopeLevelShape
  ? string extends L['name']
    ? never // a level without literal types (e.g. an empty child list typed ScopeLevelShape[])
    : | { name: L['name']; params: Acc & ParamRecord<L['param']> }
      | LevelEntries<L['children'][number], Acc & ParamRecord<L['param']>>
  : never

/** What an untyped configuration (names only known at run time) accepts: any scope, any parameters. */
type UntypedEntry = { name: string; params: Readonly<Record<string, ScopeId>> }

/** Something that carries a typed list of top-level scope levels (a `ScopeConfig`). */
export interface HasLevels<L extends readonly ScopeLevelShape[] = readonly ScopeLevelShape[]> {
  readonly levels: L
}

type EntriesOf<S> =
  S extends HasLevels<infer L>
    ? string extends L[number]['name']
      ? UntypedEntry
      : LevelEntries<L[number]>
    : never

/** Names of the scopes a configuration accepts, `'global'` included. */
export type ScopeName<S> = GlobalScope | EntriesOf<S>['name']

/** Opt-out of the ambient scope check (admin code): see {@link ScopeSelector}. */
export interface CrossScopeOption {
  /**
   * Inside `cache.runInScope`, an explicit scope parameter that differs from the ambient one is a
   * `ScopeError`, so that an id from user input cannot cross tenants; `true` allows it on purpose.
   */
  readonly crossScope?: boolean
}

/** The same keys as `P`, each optional and `undefined`: "no parameter given, take the ambient one". */
type NoParams<P> = { readonly [K in keyof P as string extends K ? never : K]?: undefined }

/**
 * The scope part of an operation's options: `{ scope: 'user', orgId, userId }` requires exactly the
 * parameters on the path to the requested level; `{}` or `{ scope: 'global' }` addresses the root.
 * `{ scope: 'user' }` alone takes every parameter from the ambient scope (`cache.runInScope`), and is
 * a `ScopeError` at run time outside one.
 */
export type ScopeSelector<S> =
  | { readonly scope?: GlobalScope }
  | (EntriesOf<S> extends infer E
      ? E extends { name: string; params: unknown }
        ? | ({ readonly scope: E['name'] } & E['params'] & CrossScopeOption)
          | ({ readonly scope: E['name'] } & NoParams<E['params']>)
        : never
      : never)

type KeysOf<T> = T extends unknown ? keyof T : never

/** Every scope parameter name of a configuration (`'orgId' | 'userId' | 'sessionId'` by default). */
export type ScopeParamName<S> = KeysOf<EntriesOf<S>['params']> & string

/**
 * The parameters of `cache.runInScope(params, fn)`: any of the configuration's scope parameters
 * (nested calls add the deeper ones), and no other name.
 */
export type AmbientScopeParams<S> = { readonly [K in ScopeParamName<S>]?: ScopeId }

/** What `cache.currentScope()` answers: the ambient parameters, each as its canonical string. */
export type AmbientScope<S> = { readonly [K in ScopeParamName<S>]?: string }

/** The parameters needed to address one level (used by `evictByScope`). */
export type ScopeParams<S, N extends ScopeName<S>> = N extends GlobalScope
  ? Record<never, never>
  : Extract<EntriesOf<S>, { name: N }> extends { params: infer P }
    ? P
    : never
