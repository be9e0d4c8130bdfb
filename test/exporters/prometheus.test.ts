// Scrapes the real /metrics text of a real HTTP server, as Prometheus would.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Cache, ConfigurationError, LRUEvict, StorageError } from '../../src/index.js'
import { registerPrometheus } from '../../src/prometheus.js'
import { RedisStorage } from '../../src/redis.js'
import { freePort, redisUrl, uniqueName } from '../support/services.js'

/** A `/metrics` endpoint for `registry` on 127.0.0.1, on a free port. */
async function serve(registry: Registry) {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end()
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/** Parses exposition text into `name{labels}` -> value, and keeps the raw lines. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

async function scrape(url: string): Promise<{ text: string; samples: Map<string, number> }> {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toContain('text/plain')
  const text = await response.text()
  return { text, samples: parse(text) }
}

describe('cacheado/prometheus', () => {
  const registry = new Registry()
  let endpoint: Awaited<ReturnType<typeof serve>>
  beforeAll(async () => {
    endpoint = await serve(registry)
  })
  afterAll(() => endpoint.close())
  afterEach(() => registry.clear())

  it('exports counters, per-tenant breakdown and latency that match the operations done', async () => {
    const cache = new Cache({
      stats: { topN: 2, levels: ['organization', 'user', 'session'] },
      rules: [new LRUEvict({ maxItems: 100 })],
    })
    const exporter = registerPrometheus(cache, { registry })
    const acme = { scope: 'user', orgId: 'acme', userId: 'ann' } as const
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i, acme)
    for (let i = 0; i < 5; i++) await cache.get(`k${i}`, acme) // 5 hits
    await cache.get('nope', acme) // a miss
    await cache.set('x', 1, { scope: 'organization', orgId: 'globex' })
    await cache.set('y', 1, { scope: 'organization', orgId: 'initech' }) // replaces globex in the top 2
    const price = cache.cache({ namespace: 'price' })(async (sku: string) => sku.length)
    await price('abc')
    await price('abc')
    await cache.evict('k0', acme)
    await cache.evictByScope('organization', { orgId: 'initech' })

    const { text, samples } = await scrape(endpoint.url)
    const at = (series: string) => samples.get(series)
    expect(at('cacheado_hits_total')).toBe(6)
    expect(at('cacheado_misses_total')).toBe(2)
    expect(at('cacheado_sets_total')).toBe(8)
    expect(at('cacheado_evictions_total{reason="explicit"}')).toBe(1)
    expect(at('cacheado_evictions_total{reason="scope"}')).toBe(1)
    expect(at('cacheado_evictions_total{reason="lru"}')).toBe(0)
    expect(at('cacheado_entries')).toBe(6) // k1..k4, globex's x and the memoized price
    expect(at('cacheado_scope_hits_total{level="organization",scope="acme"}')).toBe(5)
    expect(at('cacheado_scope_misses_total{level="organization",scope="acme"}')).toBe(1)
    expect(at('cacheado_scope_sets_total{level="organization",scope="acme"}')).toBe(5)
    expect(at('cacheado_scope_evictions_total{level="organization",scope="acme"}')).toBe(1)
    expect(at('cacheado_scope_sets_total{level="organization",scope="initech"}')).toBe(1)
    expect(at('cacheado_scope_evictions_total{level="organization",scope="initech"}')).toBe(1)
    expect(at('cacheado_scope_sets_total{level="organization",scope="{other}"}')).toBe(1) // globex
    expect(at('cacheado_scope_sets_total{level="organization",scope="globex"}')).toBeUndefined()
    expect(at('cacheado_scope_hits_total{level="user",scope="acme/ann"}')).toBe(5)
    expect(at('cacheado_scope_hits_total{level="session",scope="{other}"}')).toBe(0)
    expect(at('cacheado_namespace_hits_total{namespace="price"}')).toBe(1)
    expect(at('cacheado_namespace_misses_total{namespace="price"}')).toBe(1)
    expect(at('cacheado_namespace_sets_total{namespace="price"}')).toBe(1)
    // latency: one observation per storage operation, by operation and outcome
    const count = (operation: string, outcome: string) =>
      at(`cacheado_operation_duration_seconds_count{operation="${operation}",outcome="${outcome}"}`)
    expect(count('get', 'hit')).toBe(6)
    expect(count('get', 'miss')).toBe(2)
    expect(count('set', 'ok')).toBe(8)
    expect(count('evict', 'ok')).toBe(1)
    expect(count('evictByScope', 'ok')).toBe(1)
    expect(at('cacheado_operation_duration_seconds_bucket{le="+Inf",operation="get",outcome="hit"}')).toBe(6)
    expect(at('cacheado_operation_duration_seconds_sum{operation="get",outcome="hit"}')).toBeGreaterThan(0)
    expect(text).toContain('# TYPE cacheado_hits_total counter')
    expect(text).toContain('# TYPE cacheado_operation_duration_seconds histogram')

    // a second scrape sees later operations; counters only grow
    await cache.get('k1', acme)
    const again = await scrape(endpoint.url)
    expect(again.samples.get('cacheado_hits_total')).toBe(7)
    expect(again.samples.get('cacheado_scope_hits_total{level="organization",scope="acme"}')).toBe(6)

    if (process.env.CACHEADO_PRINT_METRICS === '1') console.log(text)
    exporter.unregister()
    expect(await registry.metrics()).not.toContain('cacheado_')
    expect(cache.listenerCount('operation')).toBe(0)
  })

  it('without the stats option exports the totals only; two caches need two prefixes', async () => {
    const a = new Cache()
    const b = new Cache()
    const ea = registerPrometheus(a, { registry })
    a.setSync('k', 1)
    expect(() => registerPrometheus(b, { registry })).toThrow(ConfigurationError)
    expect(() => registerPrometheus(b, { registry })).toThrow(
      'give each cache of one registry its own prefix option',
    )
    const eb = registerPrometheus(b, { registry, prefix: 'sessions_' })
    b.getSync('k')
    const { samples } = await scrape(endpoint.url)
    expect(samples.get('cacheado_sets_total')).toBe(1)
    expect(samples.get('sessions_misses_total')).toBe(1)
    expect([...samples.keys()].some((k) => k.includes('scope_'))).toBe(false)
    // the failed registration left a's metrics in place
    expect(ea.metricNames).toContain('cacheado_hits_total')
    ea.unregister()
    eb.unregister()
  })

  it('a scrape still answers while the storage is down (a real unreachable Redis) and after close()', async () => {
    const cache = new Cache({
      storage: new RedisStorage({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 }),
    })
    const exporter = registerPrometheus(cache, { registry })
    const load = cache.cache({ namespace: 'load' })(async () => 'fresh')
    expect(await load()).toBe('fresh') // the read fails, the function runs (fail-open)
    await expect(cache.get('k')).rejects.toBeInstanceOf(StorageError)
    const { samples } = await scrape(endpoint.url)
    expect(samples.get('cacheado_misses_total')).toBe(1) // the memoized read
    expect(samples.get('cacheado_entries')).toBeNaN() // unknown rather than a wrong 0
    expect(samples.get('cacheado_operation_duration_seconds_count{operation="get",outcome="error"}')).toBe(2)
    await cache.close()
    const closed = await scrape(endpoint.url)
    expect(closed.samples.get('cacheado_misses_total')).toBe(1)
    exporter.unregister()
  })

  it('refuses bad options with a clear error', () => {
    const cache = new Cache()
    expect(() => registerPrometheus(cache, {} as never)).toThrow(
      'registerPrometheus(cache, { registry }) needs a prom-client Registry',
    )
    expect(() => registerPrometheus(cache, { registry, prefix: 'bad-name' })).toThrow(
      'prefix must be the start of a Prometheus metric name',
    )
    expect(() => registerPrometheus(cache, { registry, durationBuckets: [1, 0.5] })).toThrow(
      'durationBuckets must be increasing positive numbers of seconds',
    )
    expect(registry.getMetricsAsArray()).toHaveLength(0)
  })
})

describe.skipIf(redisUrl === undefined)('cacheado/prometheus over a real Redis', () => {
  it('exports what a Redis-backed cache did, entries counted by the server', async () => {
    const registry = new Registry()
    const endpoint = await serve(registry)
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('prom') }),
      stats: { topN: 10, levels: ['organization'] },
    })
    const exporter = registerPrometheus(cache, { registry })
    try {
      await cache.set('a', 1, { scope: 'organization', orgId: 'o1' })
      await cache.set('b', 1, { scope: 'organization', orgId: 'o2' })
      await cache.get('a', { scope: 'organization', orgId: 'o1' })
      const { samples } = await scrape(endpoint.url)
      expect(samples.get('cacheado_entries')).toBe(2)
      expect(samples.get('cacheado_hits_total')).toBe(1)
      expect(samples.get('cacheado_scope_hits_total{level="organization",scope="o1"}')).toBe(1)
      expect(samples.get('cacheado_scope_sets_total{level="organization",scope="o2"}')).toBe(1)
      expect(samples.get('cacheado_operation_duration_seconds_count{operation="set",outcome="ok"}')).toBe(2)
    } finally {
      exporter.unregister()
      await endpoint.close()
      await cache.clear()
      await cache.close()
    }
  })
})
