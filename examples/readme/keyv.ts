// "Keyv and cache-manager": one tenant's Keyv / cache-manager store over a cacheado cache.
import { createCache } from 'cache-manager'
import { Cache } from 'cacheado'
import { KeyvAdapter } from 'cacheado/keyv'
import Keyv from 'keyv'

export async function main() {
  // #region keyv
  const cache = new Cache() // or new Cache({ storage: new RedisStorage(...) })

  // a Keyv store bound to one tenant: its keys cannot reach another tenant's
  const acme = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'acme' }) })
  const globex = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'globex' }) })
  await acme.set('plan', 'pro', 60_000) // TTL in ms, as Keyv takes it
  await globex.get('plan') // undefined
  await acme.clear() // an evictByScope of acme's 'keyv' namespace: globex is untouched

  // cache-manager 7 (and @nestjs/cache-manager) take Keyv stores
  const tenantCache = createCache({
    stores: [new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'acme' }) })],
  })
  const user = await tenantCache.wrap('user:7', async () => ({ id: 7 }), 60_000)
  // #endregion
  return { acme: await acme.get('plan'), globex: await globex.get('plan'), user }
}
