import { InvalidArgumentError, ScopeError } from '../errors.js'
import type { AmbientFrame } from './ambient.js'
import { ambientFrame, runWithFrame } from './ambient.js'
import type { ScopeConfig } from './scope-config.js'
import { scopeIdToString } from './scope-config.js'

/**
 * Runs `fn` with `params` added to the ambient scope (`cache.runInScope`). Every name must be a scope
 * parameter of `config`; every value a string or a finite number (kept as its canonical string). A
 * nested call adds parameters; it may repeat an outer one with the same id but never change it: the
 * tenant of a request cannot be switched from inside it (address another scope explicitly with
 * `{ crossScope: true }` instead).
 */
export function runInAmbientScope<R>(config: ScopeConfig, params: unknown, fn: unknown): R {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(
      `cache.runInScope(params, fn): fn must be a function, got ${fn === null ? 'null' : typeof fn}`,
    )
  }
  return runWithFrame(frameOf(config, params, ambientFrame()), fn as () => R)
}

function frameOf(config: ScopeConfig, params: unknown, parent: AmbientFrame | undefined): AmbientFrame {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new ScopeError(
      `cache.runInScope(params, fn): params must be an object of scope parameters such as { orgId: 'acme' }, got ${params === null ? 'null' : typeof params}`,
    )
  }
  const known = config.paramNames
  // A plain object (fast property access); a lookup of a name it lacks may reach Object.prototype,
  // which holds no string: readers take only strings (see ScopeConfig#id).
  const frame: Record<string, string> = parent === undefined ? {} : { ...parent }
  const given = params as Readonly<Record<string, unknown>>
  for (const name in given) {
    const value = given[name]
    if (value === undefined || !Object.hasOwn(given, name)) continue
    if (!known.has(name)) {
      const expected = [...known].join(', ') || 'none'
      throw new ScopeError(
        `cache.runInScope(params, fn): "${name}" is not a scope parameter of this cache (its parameters: ${expected})`,
      )
    }
    const id = scopeIdToString(value, 'ambient', name)
    const outer = parent === undefined ? undefined : ownString(parent, name)
    if (outer !== undefined && outer !== id) {
      throw new ScopeError(
        `cache.runInScope(params, fn): "${name}" is already ${JSON.stringify(outer)} in the enclosing scope and cannot become ${JSON.stringify(id)}; address another scope explicitly with { crossScope: true }`,
      )
    }
    frame[name] = id
  }
  return Object.freeze(frame)
}

/** The frame's own string under `name`, never an inherited property. */
const ownString = (frame: AmbientFrame, name: string): string | undefined =>
  Object.hasOwn(frame, name) ? frame[name] : undefined

/** The ambient scope parameters (canonical strings), or `undefined` outside every `runInScope`. */
export function currentAmbientScope(): AmbientFrame | undefined {
  return ambientFrame()
}
