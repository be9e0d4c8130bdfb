// The README's "Express": the ambient scope from a header, and a response cache per organization.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
// #region express
import express from 'express'
import type { Request } from 'express'
import { Cache } from 'cacheado'
import { cacheadoScope, cacheResponse } from 'cacheado/express'

const cache = new Cache()
const app = express()
app.use(express.json())
app.use(cacheadoScope(cache, (req: Request) => ({ orgId: req.get('x-org-id') }))) // or a JWT claim
app.get('/reports', cacheResponse(cache, { scope: 'organization', ttlSeconds: 30 }), async (_req, res) => {
  res.json({ org: cache.currentScope()?.orgId, builtAt: Date.now() }) // runs once per org per 30 s
})
// #endregion

export async function main(): Promise<{ statuses: (string | null)[]; orgs: unknown[] }> {
  const server = await new Promise<Server>((ready) => {
    const s = app.listen(0, '127.0.0.1', () => ready(s))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports`
  const statuses: (string | null)[] = []
  const orgs: unknown[] = []
  for (const org of ['acme', 'acme', 'beta']) {
    const response = await fetch(url, { headers: { 'x-org-id': org } })
    statuses.push(response.headers.get('x-cacheado'))
    orgs.push(((await response.json()) as { org: string }).org)
  }
  await new Promise((done) => server.close(done))
  return { statuses, orgs }
}
