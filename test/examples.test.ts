// The README's examples run here, so the documentation cannot rot.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { main as asyncAndProgrammatic } from '../examples/readme/async-and-programmatic.js'
import { main as basicUsage } from '../examples/readme/basic-usage.js'
import { main as customConfiguration } from '../examples/readme/custom-configuration.js'
import { main as grace } from '../examples/readme/grace.js'
import { main as events } from '../examples/readme/events.js'
import { main as multiTenant } from '../examples/readme/multi-tenant.js'
import { main as observability } from '../examples/readme/observability.js'
import { main as otel } from '../examples/readme/otel.js'
import { main as prometheus } from '../examples/readme/prometheus.js'
import { main as scopeEviction } from '../examples/readme/scope-eviction.js'
import { main as twoTiers } from '../examples/readme/two-tiers.js'
import { redisUrl } from './support/services.js'
import { main as statsBreakdown } from '../examples/readme/stats-breakdown.js'

const quiet = () => undefined

describe('README examples', () => {
  it('basic usage: the second call comes from the cache', () => {
    const result = basicUsage(quiet)
    expect(result).toMatchObject({ first: 200, second: 200, runs: 1 })
    expect(result.stats).toMatchObject({ hits: 1, misses: 1 })
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
