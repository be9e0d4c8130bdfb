// cacheado/express on a real Express 5 app over real HTTP: the ambient scope per request, tenants
// isolated under concurrency, the response cache's hits and misses, and evictions seen by the next request.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import type { Request } from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, ScopeError } from '../../src/index.js'
import { cacheadoScope, cacheResponse, responseKey } from '../../src/express.js'
import { sleep } from '../support/services.js'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))))
})

async function listen(app: express.Express): Promise<string> {
  const server = await new Promise<Server>((ready) => {
    const s = app.listen(0, '127.0.0.1', () => ready(s))
  })
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const headers = (org: string, user = 'u1') => ({ 'x-org-id': org, 'x-user-id': user })

function app(cache: Cache) {
  const app = express()
  app.use(express.json())
  app.use(
    cacheadoScope(cache, (req: Request) => {
      const orgId = req.get('x-org-id')
      if (orgId === 'reject') throw new Error('no such tenant')
      return orgId === undefined ? undefined : { orgId, userId: req.get('x-user-id') }
    }),
  )
  let computed = 0
  app.get('/scope', async (_req, res) => {
    await sleep(Math.random() * 5)
    res.json(cache.currentScope() ?? null)
  })
  app.post('/notes', async (req, res) => {
    await cache.set('note', (req.body as { note: string }).note, { scope: 'organization' })
    res.status(204).end()
  })
  app.get('/notes', async (_req, res) => {
    await sleep(Math.random() * 5)
    res.json({ note: await cache.get('note', { scope: 'organization' }) })
  })
  app.get('/report', cacheResponse(cache, { scope: 'organization', ttlSeconds: 60 }), (_req, res) => {
    computed++
    res.json({ org: cache.currentScope()!.orgId, computed })
  })
  app.get('/private', cacheResponse(cache, { scope: 'user' }), (_req, res) => {
    res.set('cache-control', 'private').send('mine')
  })
  app.get('/bytes', cacheResponse(cache, { scope: 'user' }), (_req, res) => {
    res.type('application/octet-stream').send(Buffer.from([0, 1, 2, 255]))
  })
  app.delete('/report', async (_req, res) => {
    res.json({ removed: await cache.evict(responseKey('GET', '/report'), { scope: 'organization' }) })
  })
  app.use((error: unknown, _req: Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error instanceof ScopeError ? 400 : 500).json({ error: (error as Error).message })
  })
  return app
}

describe('cacheado/express', () => {
  it('runs every request in its tenant’s ambient scope, after the body parser too', async () => {
    const url = await listen(app(new Cache()))
    expect(await (await fetch(`${url}/scope`, { headers: headers('acme') })).json()).toEqual({
      orgId: 'acme',
      userId: 'u1',
    })
    expect(await (await fetch(`${url}/scope`)).json()).toBeNull()
    for (const org of ['acme', 'beta']) {
      const posted = await fetch(`${url}/notes`, {
        method: 'POST',
        headers: { ...headers(org), 'content-type': 'application/json' },
        body: JSON.stringify({ note: `note of ${org}` }),
      })
      expect(posted.status).toBe(204)
    }
    expect(await (await fetch(`${url}/notes`, { headers: headers('beta') })).json()).toEqual({
      note: 'note of beta',
    })
    // no tenant: the scoped read fails closed (a ScopeError), it never reads a global entry
    const none = await fetch(`${url}/notes`)
    expect(none.status).toBe(400)
    expect(((await none.json()) as { error: string }).error).toMatch(/orgId/)
    expect((await fetch(`${url}/scope`, { headers: headers('reject') })).status).toBe(500)
  })

  it('keeps 600 concurrent requests of 30 tenants apart', async () => {
    const url = await listen(app(new Cache()))
    const answers = await Promise.all(
      Array.from({ length: 600 }, async (_, i) => {
        const org = `org${i % 30}`
        const response = await fetch(`${url}/scope`, { headers: headers(org, `u${i}`) })
        return { org, user: `u${i}`, body: (await response.json()) as { orgId: string; userId: string } }
      }),
    )
    for (const { org, user, body } of answers) expect(body).toEqual({ orgId: org, userId: user })
  })

  it('caches responses per route and tenant; an eviction is seen by the next request', async () => {
    const cache = new Cache()
    const url = await listen(app(cache))
    const get = async (org: string, path = '/report') => {
      const response = await fetch(`${url}${path}`, { headers: headers(org) })
      return { status: response.headers.get('x-cacheado'), body: await response.text() }
    }
    expect(await get('acme')).toEqual({ status: 'miss', body: '{"org":"acme","computed":1}' })
    expect(await get('acme')).toEqual({ status: 'hit', body: '{"org":"acme","computed":1}' })
    expect(await get('beta')).toEqual({ status: 'miss', body: '{"org":"beta","computed":2}' })
    expect(
      (await fetch(`${url}/report`, { method: 'HEAD', headers: headers('beta') })).headers.get('x-cacheado'),
    ).toBe('hit')
    // another URL (a query) is another entry
    expect(await get('acme', '/report?year=2026')).toMatchObject({ status: 'miss' })
    const removed = await fetch(`${url}/report`, { method: 'DELETE', headers: headers('acme') })
    expect(await removed.json()).toEqual({ removed: true })
    expect(await get('acme')).toEqual({ status: 'miss', body: '{"org":"acme","computed":4}' })
    await cache.evictByScope('organization', { orgId: 'beta' })
    expect(await get('beta')).toMatchObject({ status: 'miss' })
    // private responses are not stored; binary bodies are, byte for byte
    expect(await get('acme', '/private')).toEqual({ status: 'miss', body: 'mine' })
    expect(await get('acme', '/private')).toEqual({ status: 'miss', body: 'mine' })
    for (const expected of ['miss', 'hit']) {
      const response = await fetch(`${url}/bytes`, { headers: headers('acme') })
      expect(response.headers.get('x-cacheado')).toBe(expected)
      expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0, 1, 2, 255])
    }
    // without a tenant the response cache fails closed
    expect((await fetch(`${url}/report`)).status).toBe(400)
  })

  it('keeps the scope when it is set before a body parser that reads a slow body', async () => {
    const cache = new Cache()
    const early = express()
    early.use(cacheadoScope(cache, (req: Request) => ({ orgId: req.get('x-org-id') })))
    early.use(express.json())
    early.post('/scope', (_req, res) => {
      res.json(cache.currentScope() ?? null)
    })
    const url = await listen(early)
    const post = (org: string) => {
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"a":'))
          await sleep(20)
          controller.enqueue(new TextEncoder().encode('1}'))
          controller.close()
        },
      })
      const init = { method: 'POST', headers: { ...headers(org), 'content-type': 'application/json' }, body }
      return fetch(`${url}/scope`, { ...init, duplex: 'half' } as RequestInit).then((r) => r.json())
    }
    expect(await Promise.all([post('acme'), post('beta')])).toEqual([{ orgId: 'acme' }, { orgId: 'beta' }])
  })

  it('checks its options', () => {
    const cache = new Cache()
    expect(() => cacheadoScope(cache, 'x' as never)).toThrow(/resolve must be a function/)
    expect(() => cacheResponse(cache, {} as never)).toThrow(/organization, user, session/)
    expect(() => cacheResponse(cache, { scope: 'global' } as never)).toThrow(/never cached globally/)
    expect(() => cacheResponse(cache, { scope: 'user', ttlSeconds: -1 })).toThrow(/ttlSeconds/)
  })
})
