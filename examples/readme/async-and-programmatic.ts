// The original README's "Asynchronous Cache" and "Programmatic Cache".
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  const cache = new Cache()
  let requests = 0

  const fetchOrgData = cache.cache({ ttlSeconds: 180, scope: 'organization' })(
    async function fetchOrgData(args: { orgId: string; slug: string }) {
      requests++ // stands for an HTTP call to /api/orgs/:slug
      return { slug: args.slug, plan: 'pro' }
    },
  )
  await fetchOrgData({ orgId: 'org_123', slug: 'acme' })
  const again = await fetchOrgData({ orgId: 'org_123', slug: 'acme' })

  await cache.set(
    'user_settings',
    { theme: 'dark' },
    { ttlSeconds: 3600, scope: 'user', orgId: 'org_123', userId: 'user_456' },
  )
  const settings = await cache.get('user_settings', { scope: 'user', orgId: 'org_123', userId: 'user_456' })
  log(
    `fetchOrgData made ${requests} request(s), got ${JSON.stringify(again)}; user_settings = ${JSON.stringify(settings)}`,
  )
  return { requests, again, settings }
}
