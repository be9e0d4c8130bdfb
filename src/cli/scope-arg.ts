import { ScopeError } from '../errors.js'
import { ScopeConfig, defaultScopeConfig } from '../scopes/scope-config.js'
import { resolveOptions } from '../scopes/resolve.js'
import { ScopeLevel } from '../scopes/scope-level.js'
import type { ScopeLevelShape } from '../scopes/scope-level.js'
import type { ScopePath, ScopeSegment } from '../storage/contract.js'
import { unescapePathComponent } from './safe-text.js'
import { UsageError } from './usage-error.js'

/**
 * Scope arguments of `inspect` and `evict`. The CLI does not run the application, so it does not know
 * its `ScopeConfig`: it assumes the default hierarchy (organization/orgId > user/userId >
 * session/sessionId) unless `--scopes` (or `CACHEADO_SCOPES`) describes another one. Two forms:
 *
 * - as in the library's options: `user orgId=o1 userId=u1` (a scope name, then `param=value` pairs);
 * - as `stats` prints scopes: `organization=o1/user=u1` (`level=id` segments joined by `/`, ids escaped
 *   as in the storage keys: `%2F` for `/`, `%3D` for `=`, `%25` for `%`, and white space and control
 *   characters as `%XX` / `%uXXXX`; see `formatPath`). `level=` is the empty id, so every path the
 *   CLI prints resolves back to the same path.
 *
 * `global` is every entry. A scope name or level unknown to the hierarchy, or a missing parameter, is
 * a `ScopeError` (exit code 2): a typo must never silently match nothing.
 */

/**
 * Parses a hierarchy description: `level:param` steps joined by `>` into chains, chains joined by
 * `,`; chains may share their first levels: `organization:orgId>user:userId,organization:orgId>team:teamId`.
 */
export function parseScopeSpec(spec: string): ScopeConfig {
  interface Node {
    name: string
    param: string
    parent: Node | undefined
    children: Node[]
  }
  const nodes = new Map<string, Node>()
  const roots: Node[] = []
  for (const chain of spec.split(',')) {
    let parent: Node | undefined
    for (const step of chain.split('>')) {
      const match = /^\s*([^:\s]+)\s*:\s*([^:\s]+)\s*$/.exec(step)
      if (!match) {
        throw new UsageError(
          `--scopes: "${step.trim()}" is not level:param; expected e.g. "organization:orgId>user:userId>session:sessionId"`,
        )
      }
      const [, name, param] = match as unknown as [string, string, string]
      const known = nodes.get(name)
      if (known) {
        if (known.param !== param || known.parent !== parent) {
          throw new UsageError(
            `--scopes: level "${name}" is described twice with a different parameter or parent`,
          )
        }
        parent = known
        continue
      }
      const node: Node = { name, param, parent, children: [] }
      nodes.set(name, node)
      ;(parent ? parent.children : roots).push(node)
      parent = node
    }
  }
  const build = (node: Node): ScopeLevelShape =>
    new ScopeLevel<string, string, readonly ScopeLevelShape[]>(
      node.name,
      node.param,
      node.children.map(build),
    )
  return new ScopeConfig(roots.map(build))
}

/** The hierarchy to resolve scope arguments with: `--scopes`, else the library's default one. */
export function scopeConfigFrom(spec: string | undefined): ScopeConfig {
  return spec === undefined || spec.trim() === '' ? defaultScopeConfig() : parseScopeSpec(spec)
}

/** Resolves the scope arguments of a command; `[]` (no argument) means `fallback`. */
export function resolveScopeArgs(
  config: ScopeConfig,
  args: readonly string[],
  fallback: ScopePath | undefined,
): ScopePath {
  const [first, ...rest] = args
  if (first === undefined) {
    if (fallback) return fallback
    throw new UsageError(
      'a scope is needed, e.g. "organization orgId=o1", "organization=o1/user=u1", or "global" for every entry',
    )
  }
  if (first.includes('=')) {
    if (rest.length !== 0) {
      throw new UsageError(`unexpected argument "${rest[0]}" after the scope path "${first}"`)
    }
    return resolvePath(config, first)
  }
  const options: Record<string, string> = { scope: first }
  for (const pair of rest) {
    const eq = pair.indexOf('=')
    if (eq <= 0) {
      throw new UsageError(`scope parameters are param=value pairs, e.g. orgId=o1; got "${pair}"`)
    }
    const name = pair.slice(0, eq)
    if (name === 'scope' || Object.hasOwn(options, name)) {
      throw new UsageError(`the parameter "${name}" is given twice`)
    }
    options[name] = pair.slice(eq + 1)
  }
  return resolveOptions(config, options, SCOPE_OPTION)
}

const SCOPE_OPTION: ReadonlySet<string> = new Set(['scope'])

/** A path as `stats` prints it, checked against the hierarchy. */
function resolvePath(config: ScopeConfig, text: string): ScopePath {
  const path: ScopeSegment[] = []
  for (const part of text.split('/')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    if (eq <= 0) {
      throw new UsageError(`"${part}" in the scope path "${text}" is not level=id, e.g. organization=o1`)
    }
    // (`level=` with nothing after it is the empty id, as formatPath prints it.)
    path.push({
      level: unescapePathComponent(part.slice(0, eq)),
      id: unescapePathComponent(part.slice(eq + 1)),
    })
  }
  const level = config.level(path[path.length - 1]!.level)
  const expected = level.path.map((step) => step.name)
  if (expected.join('>') !== path.map((s) => s.level).join('>')) {
    throw new ScopeError(
      `the scope path "${text}" does not follow the hierarchy: level "${level.name}" is reached as ${expected.join(' > ')}`,
    )
  }
  return path
}
