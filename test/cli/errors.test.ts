// Wrong command lines and unreachable servers: a clear message on stderr and the documented exit code
// (2: wrong usage, 1: failure at run time), quickly, without touching any data.
import { describe, expect, it } from 'vitest'
import { load } from '../../src/cli/connect.js'
import { freePort, mongoUrl, redisUrl } from '../support/services.js'
import { runCli, spawnCli } from './helpers.js'

const redis = redisUrl ?? 'redis://127.0.0.1:1'

describe('cacheado CLI: usage errors exit with 2', () => {
  it.each([
    [[], 'a command is needed: stats, inspect, evict or invalidate-tag'],
    [['invalidate-tag', '--url', redis], 'invalidate-tag needs at least one tag'],
    [['invalidate-tag', 'a\u0007', '--url', redis, '--yes'], 'tag 0 contains a control character'],
    [['invalidate-tag', '', '--url', redis, '--yes'], 'tag 0 must be a non-empty string'],
    [['evict', 'global', '--scope', 'global', '--url', redis], '--scope applies to invalidate-tag'],
    [
      ['invalidate-tag', 'x', '--scope', 'organisation=o1', '--url', redis, '--yes'],
      'unknown scope "organisation"; known scopes',
    ],
    [['purge', '--url', redis], 'unknown command "purge"; commands: stats, inspect, evict'],
    [['stats'], '--url is needed (or CACHEADO_URL), e.g. --url redis://127.0.0.1:6379'],
    [['stats', '--url', 'localhost:6379'], 'unsupported scheme "localhost:"; accepted: redis://, rediss://'],
    [['stats', '--url', 'http://127.0.0.1'], 'unsupported scheme "http:"; accepted: redis://, rediss://'],
    [['stats', '--url', 'not a url'], '--url "not a url" is not a URL; expected redis://host:port'],
    [['stats', '--url', redis, '--bogus'], "Unknown option '--bogus'"],
    [
      ['stats', '--url', redis, '--collection', 'c'],
      '--collection applies to MongoDB URLs; for Redis use --prefix',
    ],
    [
      ['stats', '--url', 'mongodb://h', '--prefix', 'p'],
      '--prefix applies to Redis URLs; for MongoDB use --collection',
    ],
    [['stats', '--url', 'mongodb://h', '--cluster'], '--cluster applies to Redis URLs'],
    [['stats', 'organization', '--url', redis], 'stats takes no scope argument, got "organization"'],
    [['inspect', '--url', redis, '--limit', '0'], '--limit must be an integer >= 1, got "0"'],
    [['stats', '--url', redis, '--depth', 'x'], '--depth must be an integer >= 1, got "x"'],
    // A Node timer of more than 2^31-1 ms fires after 1 ms: such a timeout would fail at once.
    [['stats', '--url', redis, '--timeout', '2147483648'], '--timeout must be at most 2147483647, got'],
    [
      ['inspect', 'organisation', 'orgId=o1', '--url', redis],
      'unknown scope "organisation"; known scopes: global, organization, user, session',
    ],
    [
      ['inspect', 'user', 'orgId=o1', '--url', redis],
      'scope "user" needs the parameter "userId" (level "user")',
    ],
    [['inspect', 'organization', 'userId=u1', '--url', redis], 'parameter "userId" belongs to scope "user"'],
    [
      ['inspect', 'organization', 'o1', '--url', redis],
      'scope parameters are param=value pairs, e.g. orgId=o1; got "o1"',
    ],
    [
      ['inspect', 'organization', 'orgId=1', 'orgId=2', '--url', redis],
      'the parameter "orgId" is given twice',
    ],
    [
      ['inspect', 'organization=o1/session=s1', '--url', redis],
      'does not follow the hierarchy: level "session" is reached as organization > user > session',
    ],
    [
      ['inspect', 'organization=o1/user', '--url', redis],
      '"user" in the scope path "organization=o1/user" is not level=id',
    ],
    [
      ['inspect', 'organization=o1', 'extra', '--url', redis],
      'unexpected argument "extra" after the scope path',
    ],
    [['evict', '--url', redis], 'a scope is needed, e.g. "organization orgId=o1"'],
    [['inspect', 'a', '--url', redis, '--scopes', 'tenant'], '--scopes: "tenant" is not level:param'],
    [['inspect', 'a', '--url', redis, '--scopes', 'a:x>b:y,b:z'], '--scopes: level "b" is described twice'],
    [
      ['inspect', 'a', '--url', redis, '--scopes', 'a:scope'],
      'uses the parameter name "scope", which is an option name',
    ],
  ])('%j', async (args, message) => {
    const result = await runCli(args)
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(message)
    expect(result.stderr).toContain('Run "cacheado --help" for usage.')
  })

  it('as a subprocess too: the exit code and stderr are the process ones', async () => {
    const result = await spawnCli(['inspect', 'organisation', 'orgId=o1', '--url', redis])
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'cacheado: unknown scope "organisation"; known scopes: global, organization, user, session\nRun "cacheado --help" for usage.\n',
    })
  })

  it('--help and help print the usage and exit with 0', async () => {
    for (const args of [['--help'], ['help'], ['stats', '-h']]) {
      const result = await runCli(args)
      expect(result.code).toBe(0)
      expect(result.stdout).toContain('Usage: cacheado <command> [scope] [options]')
    }
  })

  it('CACHEADO_URL stands in for --url', async () => {
    const result = await runCli(['stats'], { env: { CACHEADO_URL: 'ftp://x' } })
    expect(result).toMatchObject({ code: 2 })
    expect(result.stderr).toContain('unsupported scheme "ftp:"')
  })
})

describe('cacheado CLI: unreachable servers exit with 1', () => {
  it('Redis: refused connection, as a subprocess', async () => {
    const port = await freePort()
    const result = await spawnCli(['stats', '--url', `redis://:secret@127.0.0.1:${port}/0`])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      `cacheado: error: cannot connect to redis://:***@127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    )
  })

  it('Redis Cluster forced on a dead node', async () => {
    const port = await freePort()
    const result = await runCli(['stats', '--url', `redis://127.0.0.1:${port}`, '--cluster'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`cannot connect to redis://127.0.0.1:${port}`)
  })

  it('MongoDB: no server answers within --timeout', async () => {
    const port = await freePort()
    const result = await spawnCli([
      'inspect',
      'global',
      '--url',
      `mongodb://u:pw@127.0.0.1:${port}/app`,
      '--timeout',
      '300',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      new RegExp(`^cacheado: error: cannot connect to mongodb://127\\.0\\.0\\.1:${port}/app: `),
    )
    expect(result.stderr).not.toContain('pw')
  })

  it.skipIf(!mongoUrl)('MongoDB: a database name with no such collection is pointed out', async () => {
    const result = await runCli(['stats', '--url', `${mongoUrl}/nodb`, '--collection', 'nothing'])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe(
      'cacheado: warning: the database "nodb" has no collection "nothing"; check --collection and the database in the URL\n',
    )
  })
})

describe('loading a backend driver', () => {
  it('turns "package not found" into the install command, and passes other failures on', async () => {
    const missing = Object.assign(new Error("Cannot find package 'ioredis' imported from /x.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    })
    await expect(load('ioredis', () => Promise.reject(missing))).rejects.toThrow(
      'this URL needs the "ioredis" package, which is not installed: npm i ioredis',
    )
    const other = new Error('boom')
    await expect(load('ioredis', () => Promise.reject(other))).rejects.toBe(other)
  })
})
