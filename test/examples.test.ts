// The README's examples run here, and every ```ts block of the README must be an excerpt of one of them,
// so the documentation cannot rot.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { main as asyncAndProgrammatic } from '../examples/readme/async-and-programmatic.js'
import { main as basicUsage } from '../examples/readme/basic-usage.js'
import { main as bulkheads } from '../examples/readme/bulkheads.js'
import { main as customConfiguration } from '../examples/readme/custom-configuration.js'
import { main as grace } from '../examples/readme/grace.js'
import { main as keyv } from '../examples/readme/keyv.js'
import { main as events } from '../examples/readme/events.js'
import { main as multiTenant } from '../examples/readme/multi-tenant.js'
import { main as observability } from '../examples/readme/observability.js'
import { main as otel } from '../examples/readme/otel.js'
import { main as prometheus } from '../examples/readme/prometheus.js'
import { main as scopeEviction } from '../examples/readme/scope-eviction.js'
import { main as tags } from '../examples/readme/tags.js'
import { main as twoTiers } from '../examples/readme/two-tiers.js'
import { main as compressionEncryption } from '../examples/readme/compression-encryption.js'
import { mongoUrl, redisUrl } from './support/services.js'
import { brokenLinks, exampleRegions, markdownFiles, regionHolding, tsBlocks } from './support/markdown.js'
import { main as statsBreakdown } from '../examples/readme/stats-breakdown.js'
import { main as byteBudgets } from '../examples/readme/byte-budgets.js'
// Declares the shipped conformance suite on the README's example provider (vitest's describe/it/afterEach).
import '../examples/readme/own-storage.js'

const root = new URL('../', import.meta.url)

const quiet = () => undefined

const rootDir = fileURLToPath(root)

/**
 * The pages whose ```ts blocks must come from examples/readme/: the README and every page under docs/,
 * except the generated API reference (its blocks are the doc comments' own examples).
 */
const documentedPages = () => [
  fileURLToPath(new URL('README.md', root)),
  ...markdownFiles(fileURLToPath(new URL('docs/', root))).filter((page) => !page.endsWith('reference.md')),
]

describe('README code', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8')
  const regions = exampleRegions(fileURLToPath(new URL('examples/readme/', root)))

  it('every ```ts block of README.md and docs/**/*.md is found verbatim in a region of examples/readme/', () => {
    const pages = documentedPages()
    expect(pages.map((page) => relative(rootDir, page))).toEqual(
      expect.arrayContaining(['README.md', 'docs/guide/scopes.md', 'docs/guide/memoization.md']),
    )
    const blocks = pages.flatMap((page) =>
      tsBlocks(readFileSync(page, 'utf8')).map((block) => ({ page: relative(rootDir, page), block })),
    )
    expect(blocks.length).toBeGreaterThanOrEqual(30)
    const missing = blocks
      .filter(({ block }) => regionHolding(block, regions) === undefined)
      .map(({ page, block }) => `${page}: ${block.slice(0, 3).join('\n')}`)
    expect(missing, 'blocks that are in no `// #region` of examples/readme/*.ts').toEqual([])
  })

  it('the check fails for a block changed by one character, or for a hostile one', () => {
    const [first] = tsBlocks(readme)
    const changed = [...first!]
    changed[changed.length - 1] = `${changed.at(-1)!} `
    expect(regionHolding(changed, regions)).toBeUndefined()
    const hostile = tsBlocks('```ts\n\u0000 db.users.find(id) \u202e\n```')
    expect(hostile).toEqual([['\u0000 db.users.find(id) \u202e']])
    expect(regionHolding(hostile[0]!, regions)).toBeUndefined()
    // Indentation does not matter: an indented fence in a list item still holds its excerpt.
    const indented = first!.map((line) => `   ${line}`).join('\n')
    expect(
      regionHolding(tsBlocks(`- item\n\n   \`\`\`ts\n${indented}\n   \`\`\`\n`)[0]!, regions),
    ).toBeDefined()
  })
})

describe('documentation links', () => {
  it('every relative link of README.md, CONTRIBUTING.md, bench/README.md and docs/ reaches its file and heading', () => {
    const pages = [
      ...documentedPages(),
      ...['CONTRIBUTING.md', 'bench/README.md', 'docs/reference.md'].map((page) =>
        fileURLToPath(new URL(page, root)),
      ),
    ]
    expect(pages.map((page) => relative(rootDir, page))).toEqual(
      expect.arrayContaining([
        'README.md',
        'docs/guide/README.md',
        'docs/guide/tiers.md',
        'docs/reference.md',
      ]),
    )
    const broken = pages.flatMap((page) => brokenLinks(page, rootDir))
    expect(broken).toEqual([])
  })

  it('the check finds a missing file, a missing heading, and a heading that exists', () => {
    const links = brokenLinks(fileURLToPath(new URL('test/support/fixtures/links.md', root)), rootDir)
    expect(links.map((link) => [link.target, link.problem])).toEqual([
      ['../../../docs/guide/nope.md', 'no file docs/guide/nope.md'],
      ['../../../README.md#no-such-heading', 'no heading #no-such-heading in README.md'],
      ['#missing', 'no heading #missing in test/support/fixtures/links.md'],
      ['../../../package.json#x', 'an anchor into a file that is not Markdown'],
    ])
  })
})

describe('docs/guide/bulkheads.md', () => {
  it('the example keeps 2 runs per organization', async () => {
    const lines: string[] = []
    const result = await bulkheads((line) => lines.push(line))
    // At most 3 at once: acme's 2 slots plus beta's run, which did not wait for acme's.
    expect(result).toEqual({ most: 3, refused: 1, beta: { org: 'beta', name: 'sales' } })
    expect(lines[0]).toMatch(/^overloaded: buildReport: organization "acme" already has 2 factory run/)
  })
})

describe('README examples written as scripts (top-level await)', () => {
  it('quick start: a user-scoped write and a memoized call, both gone with their organization', async () => {
    const { settings, profile, removed, stats } = await import('../examples/readme/quick-start.js')
    expect(settings).toEqual({ theme: 'dark' })
    expect(profile).toEqual({ id: 'alice', plan: 'pro' })
    expect(removed).toBe(2)
    expect(stats).toMatchObject({ hits: 2, misses: 1, sets: 2, totalKeys: 0 })
  })

  it('ambient scope: scoped calls take the tenant from runInScope, refuse another, fail closed outside', async () => {
    const { answer, outside } = await import('../examples/readme/ambient-scope.js')
    expect(answer).toMatchObject({ cart: ['book'], plan: { plan: 'pro', org: 'acme' }, admin: undefined })
    expect(answer.refused).toContain('crossScope')
    expect(outside).toBe('ScopeError')
  })

  it('express and fastify: a miss then a hit per organization over real HTTP', async () => {
    const expected = { statuses: ['miss', 'hit', 'miss'], orgs: ['acme', 'acme', 'beta'] }
    expect(await (await import('../examples/readme/express.js')).main()).toEqual(expected)
    expect(await (await import('../examples/readme/fastify.js')).main()).toEqual(expected)
  })

  it('scopes: a missing parameter is a ScopeError naming it; a department takes its users along', async () => {
    const { message, removed, left } = await import('../examples/readme/scopes.js')
    expect(message).toContain('"deptId"')
    expect(removed).toBe(1)
    expect(left).toBe(2) // the region's and the global entry
  })

  it('operations: sync twins, null is a value, clear counts', async () => {
    const { result } = await import('../examples/readme/operations.js')
    expect(result).toEqual({ draft: { text: '' }, existed: true, cleared: 1, hits: 1, misses: 0 })
  })

  it('rules: a per-user quota spares the quiet user; the custom rule removes a read-once entry', async () => {
    const { result } = await import('../examples/readme/rules.js')
    expect(result).toMatchObject({
      token: 'abc',
      tokenAgain: undefined,
      quiet: 'kept',
      noisyOldest: undefined,
      noisyNewest: 149,
    })
    expect(result.stats.evictionsByReason).toMatchObject({ lru: 50, rule: 1 })
  })

  it('tinylfu: a scan keeps the hot set under TinyLFUEvict and flushes it under LRUEvict', async () => {
    const { result } = await import('../examples/readme/tinylfu.js')
    expect(result).toEqual({ tiny: 60, lru: 0, perUserKeys: 50 })
  })

  it('fair-share: a noisy organization evicts its own entries only under fairness', async () => {
    const { result } = await import('../examples/readme/fair-share.js')
    expect(result).toEqual({ fair: 20, plain: 0, total: 100 })
  })

  it('memoization: sync stays sync, positional scope parameters, decorators share across instances', async () => {
    const { result } = await import('../examples/readme/memoize.js')
    expect(result.queries).toBe(1)
    expect(result.price).toBe(300)
    expect(result.order).toEqual({ orgId: 'acme', userId: 'ann', id: 7 })
    expect(result.invoice).toEqual({ id: 'in-1', total: 42 })
    expect(result.stats).toMatchObject({ hits: 3, misses: 3 })
  })

  it('grace and timeouts: the configured memoizer answers', async () => {
    const { rate } = await import('../examples/readme/resilience.js')
    expect(rate).toEqual({ pair: 'EUR/USD', rate: 1.08 })
  })

  it('getOrSet: inline in a handler, one factory run for concurrent calls, ctx decides the TTL', async () => {
    const { result } = await import('../examples/readme/get-or-set.js')
    expect(result.first).toEqual({ id: 'ann', plan: 'pro' })
    expect(result.again).toEqual(result.first)
    expect(result.together).toEqual([1, 2, 3].map(() => ({ id: 'bob', plan: 'pro' })))
    expect(result.ghost).toBeNull()
    expect(result.stored).toEqual(result.first)
    expect(result.queries).toBe(3)
  })

  it('memoized function handle: peek, withMetadata, refresh, evict; a decorated method’s handle', async () => {
    const { result } = await import('../examples/readme/memo-handle.js')
    expect(result).toEqual({ miss: 'miss', hit: 'hit', tier: 'memory', peeked: undefined, queries: 4 })
  })

  it.skipIf(redisUrl === undefined)(
    'redis: a Date survives the round trip; the scope eviction counts',
    async () => {
      process.env.REDIS_URL = redisUrl
      const { result } = await import('../examples/readme/redis.js')
      expect(result).toEqual({ profile: { plan: 'pro', since: new Date(0) }, removed: 1 })
    },
  )

  it.skipIf(redisUrl === undefined)(
    'bulk: getMany in order, has, expiresAt, getWithMetadata, evictMany counts',
    async () => {
      process.env.REDIS_URL = redisUrl
      const before = Date.now()
      const { result } = await import('../examples/readme/bulk.js')
      expect(result).toMatchObject({
        cart: ['book'],
        locale: 'fr',
        missing: undefined,
        cached: true,
        read: { value: ['book'], status: 'hit', tier: 'shared' },
        removed: 2,
      })
      expect(result.expires).toBeGreaterThanOrEqual(before + 3_599_000)
      expect(result.read.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000)
    },
  )

  it.skipIf(redisUrl === undefined)(
    'lock: 20 calls from two caches (two processes) run the function once',
    async () => {
      process.env.REDIS_URL = redisUrl
      const { result } = await import('../examples/readme/lock.js')
      expect(result.sets).toBe(1)
      expect(new Set(result.results.map((r) => JSON.stringify(r)))).toEqual(
        new Set([JSON.stringify({ orgId: 'lock-example', rows: 1234 })]),
      )
    },
  )

  it.skipIf(redisUrl === undefined)(
    'two tiers: the configuration of the README answers from the L1',
    async () => {
      process.env.REDIS_URL = redisUrl
      const { result } = await import('../examples/readme/tiers.js')
      expect(result).toEqual({ profile: { plan: 'pro' } })
    },
  )

  it.skipIf(redisUrl === undefined)(
    'compression and encryption: a dropped tenant key is a miss (and an event), other tenants read',
    async () => {
      const result = await compressionEncryption(redisUrl)
      expect(result).toEqual({ gone: undefined, kept: { rows: [1, 2, 3] }, reasons: ['no-key'], noKey: 1 })
    },
  )

  it.skipIf(mongoUrl === undefined)('mongodb: a write, a read and a scope eviction', async () => {
    process.env.MONGODB_URL = mongoUrl
    const { result } = await import('../examples/readme/mongodb.js')
    expect(result).toEqual({ plan: 'pro', removed: 1 })
  })
})

describe('README examples', () => {
  it('basic usage: the second call comes from the cache', () => {
    const result = basicUsage(quiet)
    expect(result).toMatchObject({ first: 200, second: 200, runs: 1 })
    expect(result.stats).toMatchObject({ hits: 1, misses: 1 })
  })

  it('keyv and cache-manager: one store per tenant, cleared alone', async () => {
    expect(await keyv()).toEqual({ acme: undefined, globex: undefined, user: { id: 7 } })
  })

  it('multi-tenant: the same user id under two organizations gets two entries', async () => {
    const result = await multiTenant(quiet)
    expect(result.org1).toEqual({ org: 'org1', user: 'user1' })
    expect(result.org2).toEqual({ org: 'org2', user: 'user1' })
    expect(result.loads).toEqual(['org1/user1', 'org2/user1'])
  })

  it('async and programmatic cache', async () => {
    expect(await asyncAndProgrammatic(quiet)).toEqual({
      requests: 1,
      again: { slug: 'acme', plan: 'pro' },
      settings: { theme: 'dark' },
    })
  })

  it('scope-based eviction', async () => {
    expect(await scopeEviction(quiet)).toEqual({ userRemoved: 2, orgRemoved: 1, otherTenant: 'free' })
  })

  it('tags: invalidated in one tenant and below, then everywhere; untagged entries stay', async () => {
    expect(await tags(quiet)).toEqual({
      removed: 2,
      locale: 'fr',
      globex: { seats: 5 },
      everywhere: 1,
      byTag: 3,
    })
  })

  it('custom configuration and stampede protection', async () => {
    const result = await customConfiguration(quiet)
    expect(result.apiCalls).toBe(1)
    expect(result.results).toHaveLength(100)
  })

  it('grace and stale-while-revalidate, hard timeout', async () => {
    const lines: string[] = []
    expect(await grace((line) => lines.push(line))).toEqual({
      first: 1.09,
      stale: 1.09,
      refreshed: 1.1,
      servedWhileDown: 1.1,
      fetches: 3,
      timedOut: true,
      late: 'done',
    })
    expect(lines.some((line) => /error event \(refresh\).*rates API unavailable/.test(line))).toBe(true)
  })

  it('observability', async () => {
    expect(await observability(quiet)).toMatchObject({
      hits: 1,
      misses: 1,
      sets: 1,
      evictions: 1,
      totalKeys: 0,
      hitRate: 0.5,
    })
  })

  it.skipIf(redisUrl === undefined)(
    'two tiers: a write and a scope eviction reach the other L1',
    async () => {
      expect(await twoTiers(quiet, redisUrl)).toEqual({
        before: { plan: 'free' },
        after: { plan: 'pro' },
        evicted: undefined,
        messages: 3,
      })
    },
  )
  it('events', () => {
    expect(events(quiet)).toEqual({
      lines: [
        'hit organization=acme/user=ann cart',
        'miss organization=acme/user=ann wishlist',
        'miss organization=acme plan',
        'evict lru x1 organization=acme/user=ann cart',
        'evict scope x3 organization=acme (whole scope)',
      ],
      timed: 8,
    })
  })

  it('byte budgets: a noisy tenant stays within its bytes, a too-large entry is refused, stats list bytes', () => {
    const lines: string[] = []
    const { bytes, flags, reports } = byteBudgets((line) => lines.push(line))
    expect(flags).toEqual({ beta: true })
    expect(lines[0]).toMatch(/^200016 > 65536: not stored$/)
    expect(bytes.top[0]!.scope).toEqual([{ level: 'organization', id: 'acme' }])
    expect(bytes.top[0]!.bytes).toBeLessThanOrEqual(64 * 1024)
    expect(bytes.top[0]!.bytes).toBeGreaterThan(60 * 1024)
    expect(reports).toBeLessThan(40)
  })

  it('stats per tenant: the busy tenants stay on top of 10 000 one-off tenants', () => {
    const stats = statsBreakdown(quiet)
    const { top, other } = stats.byScope.organization!
    expect(top).toHaveLength(10)
    expect(top.slice(0, 3).map((t) => [t.label, t.hits, t.misses])).toEqual([
      ['acme', 9999, 1],
      ['globex', 0, 5000],
      ['initech', 0, 2500],
    ])
    expect(top.reduce((s, t) => s + t.misses, 0) + other.misses).toBe(stats.misses - 1) // price's miss
    expect(other.misses).toBe(9993) // as the README's comment says
    expect(stats.byNamespace!.top).toMatchObject([{ namespace: 'price', hits: 1, misses: 1 }])
  })

  it('prometheus: the /metrics text of a real HTTP server', async () => {
    const lines: string[] = []
    const text = await prometheus((line) => lines.push(line))
    expect(lines).toContain('cacheado_hits_total 2')
    expect(lines).toContain('cacheado_misses_total 1')
    expect(lines).toContain('cacheado_scope_hits_total{level="organization",scope="acme"} 2')
    expect(lines).toContain('cacheado_scope_misses_total{level="organization",scope="globex"} 1')
    expect(lines).toContain('cacheado_operation_duration_seconds_count{operation="get",outcome="hit"} 2')
    expect(text).toContain('# TYPE cacheado_operation_duration_seconds histogram')
  })

  it('opentelemetry: the same metrics through a MeterProvider', async () => {
    expect(await otel(quiet)).toMatchObject({
      'cacheado.hits': 1,
      'cacheado.misses': 1,
      'cacheado.sets': 1,
      'cacheado.entries': 1,
      'cacheado.scope.hits{level=organization,scope=acme}': 1,
      'cacheado.scope.misses{level=organization,scope=globex}': 1,
    })
  })

  it('npm run demo prints a miss, a hit, a scoped eviction and stats', async () => {
    const { stdout } = await promisify(execFile)('node', ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: process.cwd(),
    })
    expect(stdout).toContain("get('greeting') before any set -> undefined (a miss)")
    expect(stdout).toContain("get('greeting') after set     -> hello, alice (a hit)")
    expect(stdout).toContain("evictByScope('organization', { orgId: 'acme' }) removed 2 entries")
    expect(stdout).toContain("globex's carol is untouched -> hello, carol")
    expect(stdout).toMatch(/hits: 2,\s+misses: 1,\s+sets: 3/)
    expect(stdout).toContain('100 concurrent calls of expensiveApiCall ran it 1 time(s)')
  }, 30_000)
})
