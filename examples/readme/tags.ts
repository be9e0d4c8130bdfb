// The README's "Tags": entries tagged inside their scopes, invalidated by tag in one tenant or everywhere.
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  // #region tags
  const cache = new Cache()
  const acme = { scope: 'organization', orgId: 'acme' } as const
  const alice = { scope: 'user', orgId: 'acme', userId: 'alice' } as const

  await cache.set('limits', { seats: 50 }, { ...acme, tags: ['plan:pro'] })
  await cache.set('features', ['sso'], { ...alice, tags: ['plan:pro', 'features'], ttlSeconds: 600 })
  await cache.set('locale', 'fr', alice) // untagged: never touched by invalidateTags
  await cache.set('limits', { seats: 5 }, { scope: 'organization', orgId: 'globex', tags: ['plan:pro'] })

  // acme changed plans: its entries tagged plan:pro go, in acme and below (alice's too), nowhere else
  const removed = await cache.invalidateTags(['plan:pro'], acme) // 2
  const locale = await cache.get('locale', alice) // 'fr'
  const globex = await cache.get('limits', { scope: 'organization', orgId: 'globex' }) // { seats: 5 }

  // Without a scope: every entry of this cache carrying any of the tags
  const everywhere = await cache.invalidateTags(['plan:pro']) // 1 (globex's)
  // #endregion
  const { evictionsByReason } = await cache.stats()
  log(`invalidateTags removed ${removed} in acme, then ${everywhere}; locale=${String(locale)}`)
  await cache.close()
  return { removed, locale, globex, everywhere, byTag: evictionsByReason.tag }
}
