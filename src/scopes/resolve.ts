/**
 * Scope resolution: from an operation's options, or a level and a parameter lookup, to the scope path of
 * its entries. Internal to the library (the facade, the memoizer, `cacheado/keyv` and the CLI call it);
 * not part of `ScopeConfig`'s public surface.
 *
 * Every scoped operation resolves through {@link resolveOptions} or {@link resolveWith}, and both read
 * the ambient scope (`cache.runInScope`): a parameter left out is taken from it, and a parameter given
 * that differs from it is a `ScopeError` unless `crossScope: true`. Without either, a missing parameter
 * is a `ScopeError`: a scoped call never falls back to the global scope.
 */
import { ScopeError } from '../errors.js'
import type { ScopePath, ScopeSegment } from '../storage/contract.js'
import type { AmbientFrame } from './ambient.js'
import { ambientFrame } from './ambient.js'
import type { ResolvedLevel, ScopeConfig } from './scope-config.js'
import { crossScopeFlag, EMPTY_PATH, scopeIdToString } from './scope-config.js'

/**
 * The scope path of an operation's options (`{ scope, ...params }`) in `config`. The requested level
 * decides; a missing parameter, or a parameter that is not on the requested level's path, is a
 * `ScopeError`. Keys in `ignored` (other option names such as `ttlSeconds`) are skipped.
 */
export function resolveOptions(
  config: ScopeConfig,
  options: Readonly<Record<string, unknown>> | undefined,
  ignored: ReadonlySet<string>,
): ScopePath {
  if (options === undefined || options === null) return EMPTY_PATH
  if (typeof options !== 'object') {
    throw new ScopeError(
      `options must be an object such as { scope: 'user', userId: 'u1' }, got ${typeof options}`,
    )
  }
  const scope = options.scope ?? 'global'
  if (typeof scope !== 'string')
    throw new ScopeError(`the "scope" option must be a scope name, got ${typeof scope}`)
  const level = config.level(scope)
  let crossScope = false
  for (const name in options) {
    if (level.params.has(name) || options[name] === undefined) continue
    if (name === 'crossScope') crossScope = crossScopeFlag(options[name])
    else if (!ignored.has(name)) throw new ScopeError(unexpectedParam(config, name, level))
  }
  if (level.path.length === 0) return EMPTY_PATH
  // The loop of resolveWith without the lookup closure: this runs on every direct operation.
  const ambient = ambientFrame()
  const path: ScopeSegment[] = []
  for (const step of level.path) {
    path.push({ level: step.name, id: idOf(options[step.param], ambient, crossScope, level, step) })
  }
  return path
}

/**
 * The scope path of `level`, reading each parameter through `lookup` (and the ambient scope, as
 * {@link resolveOptions} does).
 */
export function resolveWith(
  level: ResolvedLevel,
  lookup: (param: string) => unknown,
  crossScope = false,
): ScopePath {
  if (level.path.length === 0) return EMPTY_PATH
  const ambient = ambientFrame()
  const path: ScopeSegment[] = []
  for (const step of level.path) {
    path.push({ level: step.name, id: idOf(lookup(step.param), ambient, crossScope, level, step) })
  }
  return path
}

/** One parameter's id: the explicit value, checked against the ambient one, or the ambient one. */
function idOf(
  value: unknown,
  ambient: AmbientFrame | undefined,
  crossScope: boolean,
  level: ResolvedLevel,
  step: ResolvedLevel['path'][number],
): string {
  // Only strings are ids: a name the frame lacks may read an Object.prototype member.
  const found = ambient?.[step.param]
  const inherited = typeof found === 'string' ? found : undefined
  if (value === undefined || value === null) {
    if (inherited === undefined) throw missingParam(level, step)
    return inherited
  }
  const id = scopeIdToString(value, step.name, step.param)
  if (inherited !== undefined && inherited !== id && !crossScope) {
    throw new ScopeError(
      `scope parameter "${step.param}" is ${JSON.stringify(id)} but the ambient scope (cache.runInScope) has ${JSON.stringify(inherited)}; leave it out to use the ambient one, or pass { crossScope: true } to address another scope on purpose`,
    )
  }
  return id
}

function missingParam(level: ResolvedLevel, step: ResolvedLevel['path'][number]): ScopeError {
  const all = level.path.map((p) => p.param).join(', ')
  return new ScopeError(
    `scope "${level.name}" needs the parameter "${step.param}" (level "${step.name}"); pass all of: ${all}, or run the call inside cache.runInScope({ ${step.param}: ... }, fn)`,
  )
}

function unexpectedParam(config: ScopeConfig, name: string, level: ResolvedLevel): string {
  const owner = config.names.map((n) => config.level(n)).find((l) => l.param === name)
  if (owner) {
    return `parameter "${name}" belongs to scope "${owner.name}", but scope "${level.name}" was requested; remove it or request scope "${owner.name}"`
  }
  const expected = level.path.length ? level.path.map((p) => p.param).join(', ') : 'none'
  return `unknown option or scope parameter "${name}" for scope "${level.name}" (expected parameters: ${expected})`
}
