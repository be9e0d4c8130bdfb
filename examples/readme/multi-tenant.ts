// The original README's "Multi-Tenant Cache": the same user id under two organizations gets two entries.
import { Cache } from 'cacheado'

export async function main(log: (line: string) => void = console.log) {
  const cache = new Cache() // default scopes: organization (orgId) > user (userId) > session (sessionId)
  const loads: string[] = []

  const getUserData = cache.cache({ ttlSeconds: 600, scope: 'user' })(async function getUserData(args: {
    orgId: string
    userId: string
  }) {
    loads.push(`${args.orgId}/${args.userId}`) // stands for a database query
    return { org: args.orgId, user: args.userId }
  })

  const org1 = await getUserData({ orgId: 'org1', userId: 'user1' })
  const org2 = await getUserData({ orgId: 'org2', userId: 'user1' })
  await getUserData({ orgId: 'org1', userId: 'user1' }) // a hit
  log(
    `user1 in org1 -> ${JSON.stringify(org1)}, in org2 -> ${JSON.stringify(org2)}; loads: ${loads.join(', ')}`,
  )
  return { org1, org2, loads }
}
