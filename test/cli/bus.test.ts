// `cacheado evict` reaches the local tiers of running processes (issue 11, item 2): a real two-tier
// process holds copies in its local tier; the CLI, run as a subprocess, evicts a scope, one key, or
// everything; the process stops serving the evicted copies as soon as the bus message arrives (well
// before its local.ttlSeconds of 60 s), and keeps serving what was not evicted. Standalone Redis
// (inboxes of registered receivers) and Redis Cluster (the shared channel).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cache } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { RedisStorage } from '../../src/redis.js'
import { mongoUrl, redisClusterNodes, redisUrl, sleep, uniqueName } from '../support/services.js'
import { Peer } from '../model/fixtures/peers.js'
import type { PeerTarget } from '../model/fixtures/peers.js'
import { json, spawnCli } from './helpers.js'
import { silent } from '../tiers/fixtures/silent.js'

/** How long a bus message may take to arrive (it takes a few ms; generous for a loaded machine). */
const DELIVERY_MS = 2000

const targets: { name: string; url: string | undefined; target: () => PeerTarget }[] = [
  {
    name: 'Redis',
    url: redisUrl,
    target: () => ({ url: redisUrl, prefix: uniqueName('clibus') }),
  },
  {
    name: 'Redis Cluster',
    url: redisClusterNodes && `redis://${redisClusterNodes[0]!.host}:${redisClusterNodes[0]!.port}`,
    target: () => ({ cluster: redisClusterNodes, prefix: uniqueName('clibus') }),
  },
]

describe.each(targets)('cacheado evict reaches the local tiers on $name', ({ url, target }) => {
  let peer: Peer
  let where: PeerTarget
  beforeAll(async () => {
    if (!url) return
    where = target()
    peer = new Peer(where)
    await peer.ready
  }, 30_000)
  afterAll(async () => {
    if (!peer) return
    const unhandled = await peer.close().catch(() => ['close failed'])
    peer.kill()
    expect(unhandled).toEqual([])
  })

  const org = (id: string) => [{ level: 'organization', id }]
  const cli = (...args: string[]) => spawnCli([...args, '--url', url!, '--prefix', where.prefix])

  /** Writes through the peer (which keeps a local copy) and checks it is served. */
  async function hold(orgId: string, key: string, value: string): Promise<void> {
    await peer.send({ op: 'set', org: orgId, key, value })
    expect(await peer.get(orgId, key)).toBe(value)
  }

  /** Waits until the peer received a matching message after `after`; resolves how long it took. */
  async function delivered(after: number, match: Record<string, unknown>): Promise<void> {
    await peer.send({ op: 'waitMessage', after, match, ms: DELIVERY_MS })
  }

  it.skipIf(!url)('evict <scope>: the scope is dropped from the local tier, others stay', async () => {
    const id = uniqueName('o')
    const other = uniqueName('o')
    await hold(id, 'k1', 'v1')
    await hold(id, 'k2', 'v2')
    await hold(other, 'k1', 'w1')
    const before = await peer.messages()
    const result = await cli('evict', `organization=${id}`, '--yes', '--json')
    expect(json(result)).toMatchObject({ evicted: 2, published: `${where.prefix}:bus` })
    await delivered(before, { kind: 'scope', path: org(id) })
    expect(await peer.get(id, 'k1')).toBeNull()
    expect(await peer.get(id, 'k2')).toBeNull()
    expect(await peer.get(other, 'k1')).toBe('w1')
  })

  it.skipIf(!url)('invalidate-tag --scope: tagged entries of the scope leave the local tier', async () => {
    const id = uniqueName('o')
    const other = uniqueName('o')
    await peer.send({ op: 'set', org: id, key: 't1', value: 'v1', tags: ['plan:pro', 'x'] })
    await peer.send({ op: 'set', org: id, key: 't2', value: 'v2', tags: ['plan:free'] })
    await peer.send({ op: 'set', org: other, key: 't1', value: 'w1', tags: ['plan:pro'] })
    for (const [org_, key] of [
      [id, 't1'],
      [id, 't2'],
      [other, 't1'],
    ] as const)
      expect(await peer.get(org_, key)).not.toBeNull()
    const before = await peer.messages()
    const result = await cli(
      'invalidate-tag',
      'plan:pro',
      'y',
      '--scope',
      `organization=${id}`,
      '--yes',
      '--json',
    )
    expect(json(result)).toMatchObject({
      removed: 1,
      tags: ['plan:pro', 'y'],
      published: `${where.prefix}:bus`,
    })
    await delivered(before, { kind: 'scope', path: org(id) })
    expect(await peer.get(id, 't1')).toBeNull()
    expect(await peer.get(id, 't2')).toBe('v2') // dropped from L1 with its scope, still in Redis
    expect(await peer.get(other, 't1')).toBe('w1')
    const all = await cli('invalidate-tag', 'plan:pro', '--yes')
    expect(all.stdout).toMatch(
      /^removed 1 entries tagged "plan:pro" in scope global in .*; local tiers told on /,
    )
    // Bad tags are a usage error (exit 2), checked before connecting; so is a missing --yes off a terminal.
    const bad = await cli('invalidate-tag', 'a\x01b', '--yes')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('control character')
    const unconfirmed = await cli('invalidate-tag', 'plan:pro')
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.stderr).toContain('pass --yes')
    expect((await cli('invalidate-tag', '--yes')).code).toBe(2)
  })

  it.skipIf(!url)('evict <scope> --key: one entry is dropped, its neighbours stay', async () => {
    const id = uniqueName('o')
    const key = 'k\x1b[31m"x"'
    await hold(id, key, 'v1')
    await hold(id, 'k2', 'v2')
    const before = await peer.messages()
    // The key as inspect prints it: quoted, with escapes.
    const result = await cli('evict', 'organization', `orgId=${id}`, '--key', '"k\\x1B[31m\\"x\\""', '--yes')
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(
      `evicted the entry "k\\x1B[31m\\"x\\"" of scope organization=${id}; local tiers told on ${where.prefix}:bus\n`,
    )
    await delivered(before, { kind: 'entries', ref: { scope: org(id), key } })
    expect(await peer.get(id, key)).toBeNull()
    expect(await peer.get(id, 'k2')).toBe('v2')
    // A key that is not there: nothing evicted, still published (exit 0).
    const none = await cli('evict', `organization=${id}`, '--key', 'nothing', '--yes', '--json')
    expect(json(none)).toMatchObject({ key: 'nothing', evicted: 0 })
  })

  it.skipIf(!url)(
    'a scope with no live entries is still published: copies of entries deleted elsewhere go',
    async () => {
      const id = uniqueName('o')
      await hold(id, 'k', 'stale')
      // Deleted behind the bus's back (a storage that cannot make one, as an older version or
      // another tool would): the peer keeps its copy.
      const plain = new Cache({
        storage: silent(
          where.cluster
            ? new RedisStorage({ cluster: where.cluster, prefix: where.prefix })
            : new RedisStorage({ url: where.url!, prefix: where.prefix }),
        ),
      })
      expect(await plain.evict('k', { scope: 'organization', orgId: id })).toBe(true)
      await plain.close()
      expect(await peer.get(id, 'k')).toBe('stale')
      const before = await peer.messages()
      const result = await cli('evict', `organization=${id}`, '--yes')
      expect(result.stdout).toBe(
        `scope organization=${id}: no live entries; local tiers told on ${where.prefix}:bus\n`,
      )
      await delivered(before, { kind: 'scope', path: org(id) })
      expect(await peer.get(id, 'k')).toBeNull()
    },
  )

  it.skipIf(!url)('evict global: every local copy is dropped', async () => {
    const ids = [uniqueName('o'), uniqueName('o')]
    for (const id of ids) await hold(id, 'k', `v-${id}`)
    const before = await peer.messages()
    const result = await cli('evict', 'global', '--yes')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^evicted \d+ entries of scope global in .*; local tiers told on /)
    await delivered(before, { kind: 'scope', path: [] })
    for (const id of ids) expect(await peer.get(id, 'k')).toBeNull()
  })

  it.skipIf(!url)(
    'repeated: each eviction is seen within the delivery time (5 rounds)',
    async () => {
      for (let round = 0; round < 5; round++) {
        const id = uniqueName('o')
        await hold(id, 'k', `v${round}`)
        const started = Date.now()
        const result = await cli('evict', `organization=${id}`, '--yes', '--json')
        expect(json(result)).toMatchObject({ evicted: 1 })
        // No waiting for the message here: poll what the process serves.
        while ((await peer.get(id, 'k')) !== null) {
          expect(Date.now() - started).toBeLessThan(DELIVERY_MS)
          await sleep(5)
        }
      }
    },
    60_000,
  )
})

describe.skipIf(!mongoUrl)('cacheado evict --key on MongoDB (no bus)', () => {
  it('removes the one entry and says nothing was published', async () => {
    const collectionName = uniqueName('clibus')
    const cache = new Cache({ storage: new MongoDBStorage({ url: mongoUrl!, collectionName }) })
    await cache.set('k1', 1, { scope: 'organization', orgId: 'o1' })
    await cache.set('k2', 2, { scope: 'organization', orgId: 'o1' })
    const args = ['--url', mongoUrl!, '--collection', collectionName, '--yes']
    const result = await spawnCli(['evict', 'organization=o1', '--key', 'k1', ...args])
    expect(result).toMatchObject({ code: 0, stdout: 'evicted the entry k1 of scope organization=o1\n' })
    const again = json(await spawnCli(['evict', 'organization=o1', '--key', 'k1', '--json', ...args]))
    expect(again).toMatchObject({ evicted: 0, published: null })
    expect(await cache.get('k1', { scope: 'organization', orgId: 'o1' })).toBeUndefined()
    expect(await cache.get('k2', { scope: 'organization', orgId: 'o1' })).toBe(2)
    await cache.close()
  })
})

describe('cacheado evict --key: usage', () => {
  it.each([
    [['inspect', 'global', '--key', 'k'], '--key applies to evict, not inspect'],
    [['evict', 'global', '--key', '"a\\q"'], '--key "a\\q": a quoted key may only hold the escapes'],
  ])('%j', async (args, message) => {
    const result = await spawnCli([...args, '--url', 'redis://127.0.0.1:1', '--yes'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
  })
})
