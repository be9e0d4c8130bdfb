import { ConfigurationError, ScopeError } from '../errors.js'
import type { ScopePath } from '../storage/contract.js'
import type { ScopeId, ScopeLevelShape } from './scope-level.js'
import { ScopeLevel } from './scope-level.js'
import type { HasLevels } from './types.js'

/** Option names that sit beside scope parameters in an operation's options; no parameter may use them. */
export const RESERVED_OPTION_NAMES: ReadonlySet<string> = new Set([
  'scope',
  'ttlSeconds',
  'namespace',
  'key',
  'scopeParams',
  'crossScope',
])

/** A level with everything resolution needs precomputed. */
export interface ResolvedLevel {
  /** The level's name, e.g. `'user'`. */
  readonly name: string
  /** The option that carries its id, e.g. `'userId'`. */
  readonly param: string
  /** Levels from the top-level one down to this one. */
  readonly path: readonly { readonly name: string; readonly param: string }[]
  /** Parameter names of `path`. */
  readonly params: ReadonlySet<string>
}

const GLOBAL: ResolvedLevel = { name: 'global', param: '', path: [], params: new Set() }
/** The path of the global scope. One shared constant, so that every ref of the global scope has the same shape. */
export const EMPTY_PATH: ScopePath = Object.freeze([])

/**
 * The scope hierarchy of a cache: named levels under an implicit `global` root, any depth, several
 * independent trees allowed, level names unique.
 *
 * ```ts
 * new ScopeConfig([new ScopeLevel('organization', 'orgId', [new ScopeLevel('user', 'userId')])])
 * ```
 */
export class ScopeConfig<
  const L extends readonly ScopeLevelShape[] = readonly ScopeLevelShape[],
> implements HasLevels<L> {
  /** The top-level levels, as given. */
  readonly levels: L
  readonly #byName = new Map<string, ResolvedLevel>([['global', GLOBAL]])

  constructor(levels: L) {
    if (!Array.isArray(levels)) {
      throw new ConfigurationError(
        'ScopeConfig expects an array of ScopeLevel, e.g. new ScopeConfig([new ScopeLevel(...)])',
      )
    }
    this.levels = levels
    for (const level of levels) this.#register(level, [])
  }

  #register(level: ScopeLevelShape, ancestors: ResolvedLevel['path']): void {
    if (level === null || typeof level !== 'object') {
      throw new ConfigurationError(`a scope level must be a ScopeLevel object, got ${typeof level}`)
    }
    const { name, param } = level
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigurationError(
        'every ScopeLevel needs a non-empty name, e.g. new ScopeLevel("user", "userId")',
      )
    }
    if (name === 'global') {
      throw new ConfigurationError(
        'the level name "global" is reserved for the implicit root scope; choose another name',
      )
    }
    if (name.startsWith('#')) {
      throw new ConfigurationError(
        `the level name "${name}" starts with '#', which is reserved for the library's own sub-scopes (a Keyv namespace); choose another name`,
      )
    }
    if (this.#byName.has(name)) {
      throw new ConfigurationError(`the scope level name "${name}" is used twice; level names must be unique`)
    }
    if (typeof param !== 'string' || param.length === 0) {
      throw new ConfigurationError(`scope level "${name}" needs a non-empty parameter name, e.g. "${name}Id"`)
    }
    if (RESERVED_OPTION_NAMES.has(param)) {
      throw new ConfigurationError(
        `scope level "${name}" uses the parameter name "${param}", which is an option name; rename the parameter (e.g. "${name}Id")`,
      )
    }
    const clash = ancestors.find((a) => a.param === param)
    if (clash) {
      throw new ConfigurationError(
        `scope level "${name}" uses the parameter "${param}", already used by its ancestor "${clash.name}"; parameters on one path must differ`,
      )
    }
    const path = [...ancestors, { name, param }]
    this.#byName.set(name, { name, param, path, params: new Set(path.map((p) => p.param)) })
    const children: unknown = level.children ?? []
    if (!Array.isArray(children)) {
      throw new ConfigurationError(`the children of scope level "${name}" must be an array of ScopeLevel`)
    }
    for (const child of children as ScopeLevelShape[]) this.#register(child, path)
  }

  /** Every scope name, `'global'` first. */
  get names(): string[] {
    return [...this.#byName.keys()]
  }

  /** Whether `name` is a scope of this configuration (`'global'` always is). */
  has(name: string): boolean {
    return this.#byName.has(name)
  }

  /** The level called `name`; a {@link ScopeError} listing the known names if there is none. */
  level(name: string): ResolvedLevel {
    const level = this.#byName.get(name)
    if (level === undefined) {
      throw new ScopeError(`unknown scope ${JSON.stringify(name)}; known scopes: ${this.names.join(', ')}`)
    }
    return level
  }

  /** Every scope parameter name of this configuration (`orgId`, `userId`, ...). */
  get paramNames(): ReadonlySet<string> {
    this.#paramNames ??= new Set([...this.#byName.values()].map((l) => l.param).filter((p) => p !== ''))
    return this.#paramNames
  }

  #paramNames: ReadonlySet<string> | undefined
}

/** The `crossScope` option's value; anything but a boolean is a {@link ScopeError}. */
export function crossScopeFlag(value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new ScopeError(`the "crossScope" option must be true or false, got ${typeof value}`)
  }
  return value
}

/** Turns a scope id into its canonical string: strings as they are, finite numbers in decimal. */
export function scopeIdToString(value: unknown, level: string, param: string): string {
  if (typeof value === 'string') {
    if (isWellFormed(value)) return value
    throw new ScopeError(
      `scope parameter "${param}" (level "${level}") must be well-formed Unicode; it contains a lone UTF-16 surrogate, which backends would store as U+FFFD`,
    )
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  const got = typeof value === 'number' ? String(value) : typeof value
  throw new ScopeError(
    `scope parameter "${param}" (level "${level}") must be a string or a finite number, got ${got}`,
  )
}

/** The configuration `new Cache()` uses: organization > user > session. */
export function defaultScopeConfig() {
  return new ScopeConfig([
    new ScopeLevel('organization', 'orgId', [
      new ScopeLevel('user', 'userId', [new ScopeLevel('session', 'sessionId')]),
    ]),
  ])
}

/** Type of {@link defaultScopeConfig}'s result. */
export type DefaultScopeConfig = ReturnType<typeof defaultScopeConfig>

/** Re-export for convenience. */
export type { ScopeId }

/**
 * Whether a string has no lone UTF-16 surrogate. Shared backends store text as UTF-8, where every lone
 * surrogate becomes U+FFFD, so two different ids or keys would meet in one entry; the cache refuses them
 * on every backend alike.
 */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed()
}
