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

/**
 * The scope part of an operation's options: `{ scope: 'user', orgId, userId }` requires exactly the
 * parameters on the path to the requested level; `{}` or `{ scope: 'global' }` addresses the root.
 */
export type ScopeSelector<S> =
  | { readonly scope?: GlobalScope }
  | (EntriesOf<S> extends infer E
      ? E extends { name: string; params: unknown }
        ? { readonly scope: E['name'] } & E['params']
        : never
      : never)

/** The parameters needed to address one level (used by `evictByScope`). */
export type ScopeParams<S, N extends ScopeName<S>> = N extends GlobalScope
  ? Record<never, never>
  : Extract<EntriesOf<S>, { name: N }> extends { params: infer P }
    ? P
    : never
