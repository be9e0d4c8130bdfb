// @nestjs/cache-manager with KeyvAdapter stores: a Nest application context whose CACHE_MANAGER is
// bound to one tenant, and a factory (registerAsync) building one cache per tenant from a Cache.
import 'reflect-metadata'
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager'
import type { Cache as CacheManager } from 'cache-manager'
import { Module } from '@nestjs/common'
import type { INestApplicationContext } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import Keyv from 'keyv'
import { afterEach, describe, expect, it } from 'vitest'
import { Cache } from '../../src/index.js'
import { KeyvAdapter } from '../../src/keyv.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'

const apps: INestApplicationContext[] = []
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close()
})

/** A Nest module importing CacheModule with these options (the decorator applied by hand). */
async function appWith(cacheModule: ReturnType<typeof CacheModule.register>): Promise<CacheManager> {
  class AppModule {}
  Module({ imports: [cacheModule] })(AppModule)
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false })
  apps.push(app)
  return app.get<CacheManager>(CACHE_MANAGER)
}

describe('@nestjs/cache-manager over KeyvAdapter', () => {
  it('CACHE_MANAGER reads and writes one tenant, and its clear() spares the others', async () => {
    const cache = new Cache()
    const manager = await appWith(
      CacheModule.register({
        stores: [new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'acme' }) })],
      }),
    )
    await manager.set('user:1', { name: 'Ann' }, 60_000)
    await cache.set('plan', 'pro', { scope: 'organization', orgId: 'globex' })
    expect(await manager.get('user:1')).toEqual({ name: 'Ann' })
    expect(await manager.wrap('user:2', async () => ({ name: 'Bob' }))).toEqual({ name: 'Bob' })
    await manager.clear()
    expect(await manager.get('user:1')).toBeUndefined()
    expect(await cache.get('plan', { scope: 'organization', orgId: 'globex' })).toBe('pro')
  })

  it.skipIf(redisUrl === undefined)('registerAsync builds the store from a Redis-backed Cache', async () => {
    const cache = new Cache({ storage: new RedisStorage({ url: redisUrl!, prefix: uniqueName('nest') }) })
    try {
      const manager = await appWith(
        CacheModule.registerAsync({
          useFactory: () => ({
            stores: [new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'acme' }) })],
          }),
        }),
      )
      await manager.set('k', 'v', 10_000)
      expect(await manager.get('k')).toBe('v')
      expect(await new KeyvAdapter(cache, { scope: 'organization', orgId: 'other' }).has('keyv:k')).toBe(
        false,
      )
      expect(await cache.evictByScope('organization', { orgId: 'acme' })).toBe(1)
      expect(await manager.get('k')).toBeUndefined()
    } finally {
      await cache.clear()
      await cache.close()
    }
  })
})
