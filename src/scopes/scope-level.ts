/** A scope identifier: a tenant id, a user id, ... Numbers are treated as their decimal string. */
export type ScopeId = string | number

/** Structural shape of a scope level, used as the constraint of the typed scope helpers. */
export interface ScopeLevelShape {
  /** The level's name, e.g. `'user'`. */
  readonly name: string
  /** The option that carries its id, e.g. `'userId'`. */
  readonly param: string
  /** The levels nested directly under it. */
  readonly children: readonly ScopeLevelShape[]
}

/**
 * One level of a scope hierarchy: a name (`'organization'`) and the parameter that identifies an
 * instance of it (`'orgId'`), with the levels nested under it.
 *
 * ```ts
 * new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])
 * ```
 */
export class ScopeLevel<
  const N extends string = string,
  const P extends string = string,
  const C extends readonly ScopeLevelShape[] = readonly [],
> implements ScopeLevelShape {
  /** Unique name of the level across the whole configuration. */
  readonly name: N
  /** Name of the parameter whose value identifies one instance of this level. */
  readonly param: P
  /** Levels nested under this one. */
  readonly children: C

  constructor(name: N, param: P, children?: C) {
    this.name = name
    this.param = param
    this.children = (children ?? []) as C
  }
}
