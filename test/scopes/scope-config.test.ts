import { describe, expect, it } from 'vitest'
import {
  Cache,
  ConfigurationError,
  ScopeConfig,
  ScopeError,
  ScopeLevel,
  defaultScopeConfig,
} from '../../src/index.js'

const deep = new ScopeConfig([
  new ScopeLevel('organization', 'orgId', [
    new ScopeLevel('department', 'deptId', [
      new ScopeLevel('user', 'userId', [new ScopeLevel('session', 'sessionId')]),
    ]),
  ]),
  new ScopeLevel('region', 'regionId', [new ScopeLevel('datacenter', 'dcId')]),
])

describe('ScopeConfig', () => {
  it('keeps resolution internal: no resolve* method on its public surface (issue 12, item 5)', () => {
    const members = Object.getOwnPropertyNames(ScopeConfig.prototype)
    expect(members.filter((name) => name.startsWith('resolve'))).toEqual([])
    expect(members).toEqual(expect.arrayContaining(['has', 'level', 'names', 'paramNames']))
  })

  it('accepts any depth and several trees under the implicit global root', () => {
    expect(deep.names).toEqual([
      'global',
      'organization',
      'department',
      'user',
      'session',
      'region',
      'datacenter',
    ])
    expect(deep.level('session').path.map((p) => p.param)).toEqual(['orgId', 'deptId', 'userId', 'sessionId'])
    expect(deep.level('datacenter').path.map((p) => p.name)).toEqual(['region', 'datacenter'])
    expect(deep.has('global')).toBe(true)
    expect(deep.has('nope')).toBe(false)
  })

  it('the default configuration is organization > user > session', () => {
    expect(defaultScopeConfig().names).toEqual(['global', 'organization', 'user', 'session'])
  })

  it.each([
    [() => new ScopeConfig('x' as never), /array of ScopeLevel/],
    [() => new ScopeConfig([new ScopeLevel('', 'id')]), /non-empty name/],
    [() => new ScopeConfig([new ScopeLevel('global', 'id')]), /reserved/],
    [() => new ScopeConfig([new ScopeLevel('a', 'aId'), new ScopeLevel('a', 'bId')]), /"a" is used twice/],
    [() => new ScopeConfig([new ScopeLevel('a', 'aId', [new ScopeLevel('a', 'x')])]), /"a" is used twice/],
    [() => new ScopeConfig([new ScopeLevel('a', '')]), /non-empty parameter name/],
    [() => new ScopeConfig([new ScopeLevel('a', 'ttlSeconds')]), /option name/],
    [() => new ScopeConfig([new ScopeLevel('a', 'scope')]), /option name/],
    [
      () => new ScopeConfig([new ScopeLevel('a', 'id', [new ScopeLevel('b', 'id')])]),
      /already used by its ancestor "a"/,
    ],
    [() => new ScopeConfig([null as never]), /must be a ScopeLevel object/],
    [
      () => new ScopeConfig([new ScopeLevel('a', 'id', 'x' as never)]),
      /children of scope level "a" must be an array/,
    ],
  ])('rejects a bad configuration with a ConfigurationError that says why (%#)', (make, message) => {
    expect(make).toThrow(ConfigurationError)
    expect(make).toThrow(message)
  })

  it('allows the same parameter name in independent trees', () => {
    const config = new ScopeConfig([new ScopeLevel('a', 'id'), new ScopeLevel('b', 'id')])
    expect(config.names).toEqual(['global', 'a', 'b'])
  })
})

describe('scope resolution through the cache', () => {
  const cache = new Cache({ scopes: deep })

  it('the requested level decides where an entry lives, not which parameters are present', async () => {
    await cache.set('k', 'dept', { scope: 'department', orgId: 'o', deptId: 'd' })
    await cache.set('k', 'org', { scope: 'organization', orgId: 'o' })
    expect(await cache.get('k', { scope: 'department', orgId: 'o', deptId: 'd' })).toBe('dept')
    expect(await cache.get('k', { scope: 'organization', orgId: 'o' })).toBe('org')
    expect(await cache.get('k')).toBeUndefined()
  })

  it('names the missing parameter and the level it belongs to', async () => {
    await expect(cache.get('k', { scope: 'user', orgId: 'o', deptId: 'd' } as never)).rejects.toThrow(
      'scope "user" needs the parameter "userId" (level "user"); pass all of: orgId, deptId, userId',
    )
    await expect(cache.get('k', { scope: 'user', orgId: 'o', deptId: 'd' } as never)).rejects.toBeInstanceOf(
      ScopeError,
    )
  })

  it('refuses parameters of another level and unknown parameters', async () => {
    await expect(cache.get('k', { scope: 'organization', orgId: 'o', userId: 'u' } as never)).rejects.toThrow(
      'parameter "userId" belongs to scope "user", but scope "organization" was requested',
    )
    await expect(cache.get('k', { orgId: 'o' } as never)).rejects.toThrow('scope "global" was requested')
    await expect(cache.get('k', { scope: 'organization', orgId: 'o', tenant: 'x' } as never)).rejects.toThrow(
      'unknown option or scope parameter "tenant" for scope "organization" (expected parameters: orgId)',
    )
    await expect(cache.set('k', 1, { scope: 'global', ttlSeconds: 1 })).resolves.toBeUndefined()
    await expect(cache.get('k', { ttlSeconds: 1 } as never)).rejects.toThrow(
      'unknown option or scope parameter "ttlSeconds"',
    )
  })

  it('refuses unknown scopes, listing the known ones', async () => {
    await expect(cache.get('k', { scope: 'tenant' } as never)).rejects.toThrow(
      'unknown scope "tenant"; known scopes: global, organization, department, user, session, region, datacenter',
    )
    await expect(cache.evictByScope('tenant' as never)).rejects.toBeInstanceOf(ScopeError)
    await expect(cache.get('k', { scope: 5 } as never)).rejects.toThrow(
      'the "scope" option must be a scope name',
    )
    await expect(cache.get('k', 'user' as never)).rejects.toThrow('options must be an object')
  })

  it('treats numeric ids as their decimal string and refuses other id types', async () => {
    await cache.set('n', 1, { scope: 'organization', orgId: 42 })
    expect(await cache.get('n', { scope: 'organization', orgId: '42' })).toBe(1)
    for (const orgId of [Number.NaN, Infinity, {}, true, 1n]) {
      await expect(cache.get('n', { scope: 'organization', orgId } as never)).rejects.toThrow(
        /scope parameter "orgId" \(level "organization"\) must be a string or a finite number/,
      )
    }
  })

  it('an undefined parameter counts as absent', async () => {
    await expect(
      cache.get('k', { scope: 'organization', orgId: 'o', userId: undefined } as never),
    ).resolves.toBe('org')
    await expect(cache.get('k', { scope: 'organization', orgId: undefined } as never)).rejects.toThrow(
      'needs the parameter "orgId"',
    )
  })
})
