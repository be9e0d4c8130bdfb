// The operator CLI against the real servers: data written through the library, read, inspected and
// evicted by the CLI (as a subprocess and in-process), checked again through the library.
import { afterAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { Cache, LRUEvict, MsgpackSerializer, ScopeConfig, ScopeLevel } from '../../src/index.js'
import type { StorageProvider } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { boundId } from '../../src/storage/redis/keys.js'
import { mongoUrl, redisClusterNodes, redisUrl, uniqueName } from '../support/services.js'
import { seed, value } from './fixtures/seed.js'
import { json, runCli, spawnCli } from './helpers.js'

/** msgpack's size of the seed's 100-character strings. */
const SIZE = new MsgpackSerializer().serialize(value(100)).byteLength

interface Backend {
  readonly name: string
  readonly url: string | undefined
  /** Entries of the large-scope test: several eviction batches (2000 on Redis, 1000 on MongoDB). */
  readonly large: number
  /** A fresh namespace (prefix or collection): the CLI arguments and a storage factory. */
  space(): { args: string[]; storage: () => StorageProvider }
}

const backends: Backend[] = [
  {
    name: 'Redis',
    url: redisUrl,
    large: 4500,
    space() {
      const prefix = uniqueName('cli')
      return { args: ['--prefix', prefix], storage: () => new RedisStorage({ url: redisUrl!, prefix }) }
    },
  },
  {
    name: 'Redis Cluster',
    url: redisClusterNodes && `redis://${redisClusterNodes[0]!.host}:${redisClusterNodes[0]!.port}`,
    large: 4500,
    space() {
      const prefix = uniqueName('cli')
      return {
        args: ['--prefix', prefix],
        storage: () => new RedisStorage({ cluster: redisClusterNodes!, prefix }),
      }
    },
  },
  {
    name: 'MongoDB (FerretDB)',
    url: mongoUrl,
    large: 1100,
    space() {
      const collectionName = uniqueName('cli')
      return {
        args: ['--collection', collectionName],
        storage: () => new MongoDBStorage({ url: mongoUrl!, collectionName, operationTimeoutMs: 10_000 }),
      }
    },
  },
]

describe.each(backends)('cacheado CLI on $name', (backend) => {
  const url = backend.url!
  const open: { close(): Promise<void> }[] = []
  afterAll(async () => {
    await Promise.all(open.map((cache) => cache.close()))
  })
  /** A namespace holding the seed's 9 entries, with a Cache on it for checks. */
  async function seeded() {
    const space = backend.space()
    await seed(space.storage())
    const cache = new Cache({ storage: space.storage() })
    open.push(cache)
    return { args: ['--url', url, ...space.args], cache }
  }

  it.skipIf(!backend.url)(
    'stats as a subprocess: totals and the largest tenants, in text and JSON',
    async () => {
      const { args } = await seeded()
      const text = await spawnCli(['stats', ...args])
      expect(text.code).toBe(0)
      expect(text.stderr).toBe('')
      expect(text.stdout).toMatch(/^ {2}entries {2}9$/m)
      expect(text.stdout).toMatch(new RegExp(`^  bytes {4}${9 * SIZE} \\(`, 'm'))
      expect(text.stdout).toMatch(/^ {2}scopes {3}4 at depth 1$/m)
      expect(text.stdout).toMatch(new RegExp(`^  organization=o1 +6 +${6 * SIZE}$`, 'm'))

      const report = json(await spawnCli(['stats', '--json', ...args]))
      expect(report).toMatchObject({ entries: 9, bytes: 9 * SIZE, depth: 1, scopes: 4 })
      expect(report.largest).toEqual([
        {
          scope: 'organization=o1',
          path: [{ level: 'organization', id: 'o1' }],
          entries: 6,
          bytes: 6 * SIZE,
        },
        { scope: 'global', path: [], entries: 1, bytes: SIZE },
        { scope: 'organization=o2', path: [{ level: 'organization', id: 'o2' }], entries: 1, bytes: SIZE },
        { scope: 'organization=o3', path: [{ level: 'organization', id: 'o3' }], entries: 1, bytes: SIZE },
      ])
    },
  )

  it.skipIf(!backend.url)(
    'invalidate-tag removes the tagged entries of a scope, then of every scope',
    async () => {
      const { args, cache } = await seeded()
      await cache.set('t1', 1, { scope: 'organization', orgId: 'o1', tags: ['plan:pro'] })
      await cache.set('t2', 2, { scope: 'user', orgId: 'o1', userId: 'u9', tags: ['plan:pro', 'x'] })
      await cache.set('t3', 3, { scope: 'organization', orgId: 'o2', tags: ['plan:pro'] })
      const scoped = json(
        await runCli([
          'invalidate-tag',
          'plan:pro',
          '--scope',
          'organization=o1',
          '--yes',
          '--json',
          ...args,
        ]),
      )
      expect(scoped).toMatchObject({ removed: 2, scope: 'organization=o1', tags: ['plan:pro'] })
      expect(await cache.get('t3', { scope: 'organization', orgId: 'o2' })).toBe(3)
      const all = await runCli(['invalidate-tag', 'plan:pro', 'other', '--yes', ...args])
      expect(all.code).toBe(0)
      expect(all.stdout).toMatch(/^removed 1 entries tagged "plan:pro", "other" in scope global in /)
      expect((await cache.stats()).totalKeys).toBe(9) // the seed's untagged entries
    },
  )

  it.skipIf(!backend.url)(
    'stats --depth 2 --count-only --limit 3 groups by user, without sizes',
    async () => {
      const { args } = await seeded()
      const report = json(
        await runCli(['stats', '--json', '--depth', '2', '--count-only', '-n', '3', ...args]),
      )
      expect(report).toEqual({
        backend: expect.any(String),
        entries: 9,
        depth: 2,
        scopes: 6,
        largest: [
          { scope: 'organization=o1/user=u1', path: expect.any(Array), entries: 3 },
          { scope: 'organization=o1/user=u2', path: expect.any(Array), entries: 2 },
          { scope: 'global', path: [], entries: 1 },
        ],
      })
      const text = await runCli(['stats', '--count-only', ...args])
      expect(text.stdout).not.toContain('bytes')
      expect(text.stdout).toMatch(/^ {2}organization=o1 +6$/m)
    },
  )

  it.skipIf(!backend.url)(
    'inspect lists the keys, sizes and TTLs of a scope; both scope syntaxes agree',
    async () => {
      const { args } = await seeded()
      const named = json<{
        entries: number
        shown: { scope: string; key: string; bytes: number; ttlMs: number | null }[]
      }>(await runCli(['inspect', 'user', 'orgId=o1', 'userId=u2', '--json', ...args]))
      expect(named.entries).toBe(2)
      expect(named.shown.map((e) => e.key).sort()).toEqual([
        '#m:orders:[{"orgId":"o1","userId":"u2"}]',
        'profile',
      ])
      for (const entry of named.shown) {
        expect(entry).toMatchObject({
          scope: 'organization=o1/user=u2',
          path: [
            { level: 'organization', id: 'o1' },
            { level: 'user', id: 'u2' },
          ],
          bytes: SIZE,
          ttlMs: null,
        })
      }
      const path = json(await spawnCli(['inspect', 'organization=o1/user=u2', '--json', ...args]))
      expect(path).toEqual({ ...named, backend: path.backend })

      const ttl = json<{ shown: { ttlMs: number }[] }>(
        await runCli(['inspect', 'organization', 'orgId=o2', '--json', ...args]),
      )
      expect(ttl.shown).toHaveLength(1)
      expect(ttl.shown[0]!.ttlMs).toBeGreaterThan(0)
      expect(ttl.shown[0]!.ttlMs).toBeLessThanOrEqual(60_000)

      const text = await runCli(['inspect', 'organization', 'orgId=o1', ...args])
      expect(text.code).toBe(0)
      expect(text.stdout).toMatch(/^scope organization=o1: 6 live entries$/m)
      expect(text.stdout).toMatch(new RegExp(`^  organization=o1/user=u1 +settings +${SIZE} +none$`, 'm'))
      expect(text.stdout).toMatch(new RegExp(`^  organization=o1 +plan +${SIZE} +none$`, 'm'))
    },
  )

  it.skipIf(!backend.url)('inspect without a scope lists everything, up to --limit', async () => {
    const { args } = await seeded()
    const all = json<{ scope: string; entries: number; shown: unknown[] }>(
      await runCli(['inspect', '--json', ...args]),
    )
    expect(all.scope).toBe('global')
    expect(all.entries).toBe(9)
    expect(all.shown).toHaveLength(9)
    const some = await runCli(['inspect', 'global', '--limit', '2', ...args])
    expect(some.stdout).toContain('9 live entries (showing 2; --limit for more)')
    const empty = await runCli(['inspect', 'organization', 'orgId=nobody', ...args])
    expect(empty).toMatchObject({ code: 0, stdout: 'scope organization=nobody: no live entries\n' })
  })

  it.skipIf(!backend.url)('evict refuses without a terminal or --yes, and changes nothing', async () => {
    const { args, cache } = await seeded()
    const refused = await spawnCli(['evict', 'organization', 'orgId=o1', ...args])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('stdin is not a terminal; pass --yes')
    expect(await cache.get('plan', { scope: 'organization', orgId: 'o1' })).toBe(value(100))
    expect(await cache.stats()).toMatchObject({ totalKeys: 9 })
  })

  it.skipIf(!backend.url)(
    'evict --yes removes exactly the scope, and the storage stays consistent',
    async () => {
      const { args, cache } = await seeded()
      const done = await spawnCli(['evict', 'organization', 'orgId=o1', '--yes', ...args])
      expect(done.code).toBe(0)
      expect(done.stdout).toMatch(
        /^evicted 6 entries of scope organization=o1 in (\d+ ms|\d+\.\d s)(; local tiers told on \S+:bus)?$/m,
      )
      expect(await cache.get('profile', { scope: 'user', orgId: 'o1', userId: 'u1' })).toBeUndefined()
      expect(await cache.get('plan', { scope: 'organization', orgId: 'o3' })).toBe(value(100))
      expect(await cache.get('feature-flags')).toBe(value(100))
      expect((await cache.stats()).totalKeys).toBe(3)
      // The scope's indexes went with it: the library finds nothing left to evict, and writes work again.
      expect(await cache.evictByScope('organization', { orgId: 'o1' })).toBe(0)
      await cache.set('plan', 'again', { scope: 'organization', orgId: 'o1' })
      expect(json(await runCli(['stats', '--json', ...args]))).toMatchObject({ entries: 4 })
      const again = json(await runCli(['evict', 'organization=o1', '-y', '--json', ...args]))
      expect(again).toMatchObject({ scope: 'organization=o1', evicted: 1 })
      const nothing = await runCli(['evict', 'organization=o1', '-y', ...args])
      expect(nothing.stdout).toMatch(
        /^scope organization=o1: no live entries(, nothing to evict|; local tiers told on \S+:bus)\n$/,
      )
    },
  )

  it.skipIf(!backend.url)(
    'evict on a terminal asks first: "n" keeps the data (exit 1), "y" evicts',
    async () => {
      const { args, cache } = await seeded()
      const declined = await runCli(['evict', 'user', 'orgId=o1', 'userId=u1', ...args], {
        tty: true,
        input: 'n\n',
      })
      expect(declined.code).toBe(1)
      expect(declined.stderr).toContain('Evict 3 live entries of scope organization=o1/user=u1 from ')
      expect(declined.stderr).toContain('not confirmed; nothing was evicted')
      const closed = await runCli(['evict', 'user', 'orgId=o1', 'userId=u1', ...args], {
        tty: true,
        input: '',
      })
      expect(closed.code).toBe(1)
      expect((await cache.stats()).totalKeys).toBe(9)

      const confirmed = await runCli(['evict', 'user', 'orgId=o1', 'userId=u1', ...args], {
        tty: true,
        input: 'y\n',
      })
      expect(confirmed.code).toBe(0)
      expect(confirmed.stdout).toMatch(/^evicted 3 entries of scope organization=o1\/user=u1/)
      expect(confirmed.stderr).toContain('evicting [##############################] 100% 3/3')
      expect((await cache.stats()).totalKeys).toBe(6)
      expect(await cache.get('profile', { scope: 'user', orgId: 'o1', userId: 'u2' })).toBe(value(100))
    },
  )

  it.skipIf(!backend.url)('evict global removes every entry of this namespace only', async () => {
    const { args, cache } = await seeded()
    const other = await seeded()
    const done = json(await runCli(['evict', 'global', '--yes', '--json', ...args]))
    expect(done).toMatchObject({ scope: 'global', evicted: 9 })
    expect((await cache.stats()).totalKeys).toBe(0)
    expect((await other.cache.stats()).totalKeys).toBe(9)
  })

  it.skipIf(!backend.url)(
    'a large scope is evicted in batches with a progress bar',
    async () => {
      const space = backend.space()
      const writer = new Cache({ storage: space.storage() })
      open.push(writer)
      const total = backend.large
      for (let i = 0; i < total; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, total - i) }, (_, j) =>
            writer.set(`k${i + j}`, i + j, { scope: 'user', orgId: 'big', userId: `u${(i + j) % 7}` }),
          ),
        )
      }
      await writer.set('kept', 1, { scope: 'organization', orgId: 'small' })
      const args = ['--url', url, ...space.args]
      const progress: string[] = []
      const result = await runCli(['evict', 'organization', 'orgId=big', ...args], {
        tty: true,
        input: 'yes\n',
      })
      progress.push(...result.stderr.split('\r').filter((s) => s.startsWith('evicting')))
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`^evicted ${total} entries`))
      expect(progress.at(-1)).toContain(`100% ${total}/${total}`)
      expect((await writer.stats()).totalKeys).toBe(1)
    },
    60_000,
  )

  it.skipIf(!backend.url)('custom hierarchies with --scopes (or CACHEADO_SCOPES)', async () => {
    const space = backend.space()
    const scopes = new ScopeConfig([
      new ScopeLevel('tenant', 'tenantId', [new ScopeLevel('project', 'projectId')]),
    ])
    const cache = new Cache({ scopes, storage: space.storage() })
    open.push(cache)
    await cache.set('a', 1, { scope: 'project', tenantId: 't/1', projectId: 'p=1' })
    await cache.set('b', 2, { scope: 'tenant', tenantId: 't/1' })
    const args = ['--url', url, ...space.args]
    const spec = 'tenant:tenantId>project:projectId'
    const named = json(
      await runCli([
        'inspect',
        'project',
        'tenantId=t/1',
        'projectId=p=1',
        '--json',
        '--scopes',
        spec,
        ...args,
      ]),
    )
    expect(named).toMatchObject({ scope: 'tenant=t%2F1/project=p%3D1', entries: 1, shown: [{ key: 'a' }] })
    // The printed path is accepted back as it is.
    const pasted = json(
      await runCli(['inspect', 'tenant=t%2F1/project=p%3D1', '--json', ...args], {
        env: { CACHEADO_SCOPES: spec },
      }),
    )
    expect(pasted).toEqual(named)
    const wrong = await runCli(['inspect', 'organization', 'orgId=o1', '--scopes', spec, ...args])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('unknown scope "organization"; known scopes: global, tenant, project')
  })

  it.skipIf(!backend.url)('a wrong prefix or collection is pointed out on stderr', async () => {
    const result = await runCli(['stats', '--url', url, ...backend.space().args])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^cacheado: warning: .*check --(prefix|collection)/)
    expect(result.stdout).toMatch(/^ {2}entries {2}0$/m)
  })
})

describe.skipIf(redisUrl === undefined)('cacheado CLI evict on Redis with bounds', () => {
  it('evicts with the bounds the application recorded: no members stay in the bound sets', async () => {
    const prefix = uniqueName('clibounds')
    const cache = new Cache({
      storage: new RedisStorage({ url: redisUrl!, prefix }),
      rules: [new LRUEvict({ maxItems: 50, per: 'organization' }), new LRUEvict({ maxItems: 100 })],
    })
    const raw = new Redis(redisUrl!)
    try {
      for (let i = 0; i < 10; i++)
        await cache.set(`k${i}`, i, { scope: 'user', orgId: 'o1', userId: `u${i % 2}` })
      await cache.set('other', 1, { scope: 'organization', orgId: 'o2' })
      // Bound keys are named by what the bound is (redis/keys.ts boundId), not by its place in the rules.
      const perOrg = boundId({ order: 'lru', maxItems: 50, per: 'organization', reason: 'lru' })
      const wide = boundId({ order: 'lru', maxItems: 100, reason: 'lru' })
      const boundKeys = [
        `${prefix}:{organization=o1/}:b${perOrg}:organization=o1/`,
        `${prefix}:{@@}:b${wide}`,
      ]
      expect(await Promise.all(boundKeys.map((k) => raw.zcard(k)))).toEqual([10, 11])

      const result = await runCli([
        'evict',
        'organization',
        'orgId=o1',
        '--yes',
        '--url',
        redisUrl!,
        '--prefix',
        prefix,
      ])
      expect(result.code).toBe(0)
      expect(await Promise.all(boundKeys.map((k) => raw.zcard(k)))).toEqual([0, 1])
      expect(await cache.get('other', { scope: 'organization', orgId: 'o2' })).toBe(1)
    } finally {
      await cache.clear()
      await cache.close()
      raw.disconnect()
    }
  })
})
