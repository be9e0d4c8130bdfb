// The README's "Fastify": the plugin sets each request's ambient scope; routes opt into the response cache.
// #region fastify
import Fastify from 'fastify'
import { Cache } from 'cacheado'
import { cacheadoFastify } from 'cacheado/fastify'

const cache = new Cache()
const app = Fastify()
await app.register(
  cacheadoFastify(cache, { scope: (request) => ({ orgId: request.headers['x-org-id'] as string }) }),
)
app.get('/reports', { config: { cacheado: { scope: 'organization', ttlSeconds: 30 } } }, async () => {
  return { org: cache.currentScope()?.orgId, builtAt: Date.now() } // runs once per org per 30 s
})
// #endregion

export async function main(): Promise<{ statuses: (string | null)[]; orgs: unknown[] }> {
  const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/reports`
  const statuses: (string | null)[] = []
  const orgs: unknown[] = []
  for (const org of ['acme', 'acme', 'beta']) {
    const response = await fetch(url, { headers: { 'x-org-id': org } })
    statuses.push(response.headers.get('x-cacheado'))
    orgs.push(((await response.json()) as { org: string }).org)
  }
  await app.close()
  return { statuses, orgs }
}
