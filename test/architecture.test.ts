// Imports run one way: facade (src/cache.ts over src/facade/) -> memoize -> operations -> scopes/keys -> rules
// -> storage contract <- providers; exporters -> observability (never the facade).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, expect, it } from 'vitest'

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

const graph = new Map(
  sources('src').map((file) => {
    // Static imports and dynamic import('...') calls alike.
    const imports = [...readFileSync(file, 'utf8').matchAll(/(?:from |import\()'(\.[^']+)'/g)].map((m) =>
      normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'),
    )
    return [file, imports] as const
  }),
)

/** Which top-level parts of src/ a part may import. */
const allowed: Record<string, readonly string[]> = {
  // ttl.ts is a leaf (it imports errors.ts only): the TTL and timer limits every layer checks.
  storage: ['storage', 'serializers', 'errors.ts', 'ttl.ts'],
  serializers: ['serializers', 'errors.ts'],
  rules: ['rules', 'storage', 'errors.ts', 'ttl.ts'],
  keys: ['keys', 'storage', 'errors.ts'],
  scopes: ['scopes', 'storage', 'errors.ts'],
  tiers: ['tiers', 'storage', 'errors.ts', 'ttl.ts'],
  // The operation pipeline sits below both the facade and the memoizer: facade -> memoize -> operations.
  operations: [
    'operations',
    'rules',
    'keys',
    'observability',
    'storage',
    'errors.ts',
    'events.ts',
    'stats.ts',
  ],
  memoize: ['memoize', 'operations', 'keys', 'scopes', 'storage', 'errors.ts', 'ttl.ts'],
  // The facade's parts (option types, argument checks, wiring) sit under src/cache.ts and above everything
  // it wires; they never import the facade itself nor anything built on it (integrations, CLI, exporters).
  facade: [
    'facade',
    'memoize',
    'operations',
    'observability',
    'tiers',
    'rules',
    'keys',
    'scopes',
    'storage',
    'bulk-args.ts',
    'errors.ts',
    'events.ts',
    'stats.ts',
    'ttl.ts',
  ],
  // The operator CLI reads backends through their admin views; it never needs the cache facade.
  cli: ['cli', 'storage', 'scopes', 'errors.ts'],
  observability: ['observability', 'keys', 'storage', 'errors.ts', 'events.ts', 'stats.ts'],
  exporters: ['exporters', 'observability', 'errors.ts', 'events.ts', 'stats.ts'],
  // Framework integrations sit above the facade: they drive a Cache (its runInScope, get, set) and
  // never reach under it, except for the scope types.
  frameworks: ['frameworks', 'cache.ts', 'scopes', 'storage', 'errors.ts'],
  // Integrations sit above the facade: they take a Cache (its type), and address entries below the
  // configured levels through the pipeline the facade registered (operations/registry.ts).
  keyv: ['keyv', 'cache.ts', 'operations', 'scopes', 'keys', 'storage', 'errors.ts'],
}

const part = (file: string) => file.split('/')[1]!

describe('architecture', () => {
  it('has no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[][] = []
    const visit = (file: string, path: string[]) => {
      state.set(file, 'open')
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open') cycles.push([...path.slice(path.indexOf(dep)), dep])
        else if (!state.has(dep)) visit(dep, [...path, dep])
      }
      state.set(file, 'done')
    }
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file])
    expect(cycles).toEqual([])
  })

  it('lower layers never import higher ones', () => {
    const violations = [...graph].flatMap(([file, imports]) => {
      const rule = allowed[part(file)]
      return rule ? imports.filter((dep) => !rule.includes(part(dep))).map((dep) => `${file} -> ${dep}`) : []
    })
    expect(violations).toEqual([])
  })

  it('the main entry never loads the optional backends or metric libraries', () => {
    const reachable = new Set<string>()
    const walk = (file: string) => {
      if (reachable.has(file)) return
      reachable.add(file)
      for (const dep of graph.get(file) ?? []) walk(dep)
    }
    walk('src/index.ts')
    expect(
      [...reachable].filter((file) => /redis|mongodb|prometheus|otel|exporters|frameworks/.test(file)),
    ).toEqual([])
    const text = [...reachable].map((file) => readFileSync(file, 'utf8')).join('\n')
    expect(text).not.toMatch(/from 'ioredis'|from 'mongodb'|from 'prom-client'|from '@opentelemetry/)
  })

  it('keyv is never imported at run time: cacheado/keyv only has the shape of a Keyv store', () => {
    const importers = sources('src').filter((file) =>
      /^import [^\n]*from 'keyv'|import\('keyv'\)/m.test(readFileSync(file, 'utf8')),
    )
    expect(importers).toEqual([])
  })

  it('each metric library is imported by its own exporter only', () => {
    const importers = (library: string) =>
      sources('src').filter((file) => readFileSync(file, 'utf8').includes(`from '${library}`))
    expect(importers('prom-client')).toEqual(['src/exporters/prometheus.ts'])
    expect(importers('@opentelemetry/')).toEqual(['src/exporters/otel.ts'])
  })

  it('each framework is imported by its own integration only, and nothing imports an integration', () => {
    const importers = (library: string) =>
      sources('src').filter((file) => readFileSync(file, 'utf8').match(new RegExp(`from '${library}['/]`)))
    expect(importers('express')).toEqual([])
    expect(importers('fastify')).toEqual(['src/frameworks/fastify.ts'])
    expect(importers('@nestjs')).toEqual(['src/frameworks/nestjs.ts'])
    expect(importers('rxjs')).toEqual(['src/frameworks/nestjs.ts'])
    const intoFrameworks = [...graph].flatMap(([file, imports]) =>
      part(file) === 'frameworks' || /^src\/(express|fastify|nestjs)\.ts$/.test(file)
        ? []
        : imports.filter((dep) => part(dep) === 'frameworks').map((dep) => `${file} -> ${dep}`),
    )
    expect(intoFrameworks).toEqual([])
  })
})

/** The provider folders under src/storage/; everything else directly in src/storage/ is the contract. */
const providers = ['memory', 'redis', 'mongodb'] as const

/** `memory`, `redis` or `mongodb` for a file in that provider's folder; undefined otherwise. */
const providerOf = (file: string) => {
  const [, parts, folder, rest] = file.split('/')
  return parts === 'storage' && rest !== undefined ? providers.find((name) => name === folder) : undefined
}

describe('architecture of the storage providers', () => {
  it('has one folder per provider, and every file of src/storage/ is either the contract or in one', () => {
    const stray = sources('src/storage').filter((file) => file.split('/').length > 3 && !providerOf(file))
    expect(stray).toEqual([])
    for (const name of providers) expect(sources(`src/storage/${name}`).length).toBeGreaterThan(0)
  })

  it('the storage contract (the files directly in src/storage/) imports no provider', () => {
    const violations = [...graph]
      .filter(([file]) => part(file) === 'storage' && file.split('/').length === 3)
      .flatMap(([file, imports]) =>
        imports.filter((dep) => providerOf(dep)).map((dep) => `${file} -> ${dep}`),
      )
    expect(violations).toEqual([])
  })

  it('no provider imports another', () => {
    const violations = [...graph].flatMap(([file, imports]) => {
      const own = providerOf(file)
      if (!own) return []
      return imports
        .filter((dep) => providerOf(dep) !== undefined && providerOf(dep) !== own)
        .map((dep) => `${file} -> ${dep}`)
    })
    expect(violations).toEqual([])
  })

  it('only src/tiers/, the facade (its default InMemory) and src/index.ts reach into the memory provider', () => {
    const allowedOutside = (file: string) =>
      part(file) === 'tiers' || part(file) === 'facade' || file === 'src/cache.ts' || file === 'src/index.ts'
    const violations = [...graph].flatMap(([file, imports]) =>
      providerOf(file) === 'memory' || allowedOutside(file)
        ? []
        : imports.filter((dep) => providerOf(dep) === 'memory').map((dep) => `${file} -> ${dep}`),
    )
    expect(violations).toEqual([])
  })

  it('cacheado/storage (src/storage/index.ts) loads the contract only: no provider, no cache', () => {
    const reachable = new Set<string>()
    const walk = (file: string) => {
      if (reachable.has(file)) return
      reachable.add(file)
      for (const dep of graph.get(file) ?? []) walk(dep)
    }
    walk('src/storage/index.ts')
    const outside = [...reachable].filter(
      (file) =>
        !(part(file) === 'storage' && file.split('/').length === 3) &&
        part(file) !== 'serializers' &&
        !['src/errors.ts', 'src/ttl.ts'].includes(file),
    )
    expect(outside).toEqual([])
  })

  it('catches a violation (the rules are not vacuous)', () => {
    expect(providerOf('src/storage/redis/keys.ts')).toBe('redis')
    expect(providerOf('src/storage/contract.ts')).toBeUndefined()
    expect(providerOf('src/tiers/tiered-storage.ts')).toBeUndefined()
    expect(graph.get('src/tiers/local-tier.ts')?.some((dep) => providerOf(dep) === 'memory')).toBe(true)
  })
})

describe('architecture of the CLI', () => {
  it('loads a backend only when a URL needs it (a dynamic import), so one driver suffices', () => {
    const staticDeps = (file: string) =>
      [...readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)].map((m) =>
        normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'),
      )
    const reachable = new Set<string>()
    const walk = (file: string) => {
      if (reachable.has(file)) return
      reachable.add(file)
      for (const dep of staticDeps(file)) walk(dep)
    }
    walk('src/cli/main.ts')
    expect([...reachable].filter((file) => /redis|mongodb/.test(file))).toEqual([])
    expect(graph.get('src/cli/connect.ts')).toEqual(
      expect.arrayContaining(['src/storage/redis/admin.ts', 'src/storage/mongodb/admin.ts']),
    )
  })
})
