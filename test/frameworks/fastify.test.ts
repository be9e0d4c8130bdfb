// cacheado/fastify on a real Fastify 5 app over real HTTP: the ambient scope per request (through body
// parsing too), tenants isolated under concurrency, the response cache's hits and misses, and evictions.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { Cache, ScopeError } from '../../src/index.js'
import { cacheadoFastify, responseKey } from '../../src/fastify.js'
import { sleep } from '../support/services.js'

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

const headers = (org: string, user = 'u1') => ({ 'x-org-id': org, 'x-user-id': user })

async function start(cache: Cache): Promise<string> {
  const app = Fastify()
  apps.push(app)
  await app.register(
    cacheadoFastify(cache, {
      scope: async (request) => {
        const orgId = request.headers['x-org-id'] as string | undefined
        if (orgId === 'reject') throw new Error('no such tenant')
        return orgId === undefined ? undefined : { orgId, userId: request.headers['x-user-id'] as string }
      },
    }),
  )
  app.setErrorHandler((error, _request, reply) => {
    void reply.code(error instanceof ScopeError ? 400 : 500).send({ error: (error as Error).message })
  })
  let computed = 0
  app.get('/scope', async () => {
    await sleep(Math.random() * 5)
    return cache.currentScope() ?? null
  })
  app.post('/notes', async (request, reply) => {
    await cache.set('note', (request.body as { note: string }).note, { scope: 'organization' })
    return reply.code(204).send()
  })
  app.get('/notes', async () => ({ note: await cache.get('note', { scope: 'organization' }) }))
  app.get('/report', { config: { cacheado: { scope: 'organization', ttlSeconds: 60 } } }, async () => {
    computed++
    return { org: cache.currentScope()!.orgId, computed }
  })
  app.get('/cookie', { config: { cacheado: { scope: 'user' } } }, async (_request, reply) => {
    return reply.header('set-cookie', 'a=1').send('with cookie')
  })
  app.get('/bad', { config: { cacheado: { scope: 'nope' } } }, async () => 'never')
  app.delete('/report', async () => ({
    removed: await cache.evict(responseKey('GET', '/report'), { scope: 'organization' }),
  }))
  return app.listen({ port: 0, host: '127.0.0.1' })
}

describe('cacheado/fastify', () => {
  it('runs every request in its tenant’s ambient scope, through body parsing too', async () => {
    const url = await start(new Cache())
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
    // a body that arrives in pieces is parsed on the socket's context: the scope is re-entered after it
    const slowBody = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('{"note":'))
        await sleep(30)
        controller.enqueue(new TextEncoder().encode('"slow note of acme"}'))
        controller.close()
      },
    })
    const slow = await fetch(`${url}/notes`, {
      method: 'POST',
      headers: { ...headers('acme'), 'content-type': 'application/json' },
      body: slowBody,
      duplex: 'half',
    } as RequestInit)
    expect(slow.status).toBe(204)
    expect(await (await fetch(`${url}/notes`, { headers: headers('acme') })).json()).toEqual({
      note: 'slow note of acme',
    })
    const none = await fetch(`${url}/notes`)
    expect(none.status).toBe(400)
    expect(((await none.json()) as { error: string }).error).toMatch(/orgId/)
    expect((await fetch(`${url}/scope`, { headers: headers('reject') })).status).toBe(500)
    expect((await fetch(`${url}/scope`, { headers: headers('acme', '') })).status).toBe(200)
  })

  it('keeps 600 concurrent requests of 30 tenants apart', async () => {
    const url = await start(new Cache())
    const answers = await Promise.all(
      Array.from({ length: 600 }, async (_, i) => {
        const org = `org${i % 30}`
        const response = await fetch(`${url}/scope`, { headers: headers(org, `u${i}`) })
        return { org, user: `u${i}`, body: (await response.json()) as unknown }
      }),
    )
    for (const { org, user, body } of answers) expect(body).toEqual({ orgId: org, userId: user })
  })

  it('caches opted-in routes per tenant; an eviction is seen by the next request', async () => {
    const cache = new Cache()
    const url = await start(cache)
    const get = async (org: string, path = '/report') => {
      const response = await fetch(`${url}${path}`, { headers: headers(org) })
      return { status: response.headers.get('x-cacheado'), body: await response.text() }
    }
    expect(await get('acme')).toEqual({ status: 'miss', body: '{"org":"acme","computed":1}' })
    expect(await get('acme')).toEqual({ status: 'hit', body: '{"org":"acme","computed":1}' })
    expect(await get('beta')).toEqual({ status: 'miss', body: '{"org":"beta","computed":2}' })
    expect(await get('beta')).toMatchObject({ status: 'hit' })
    const removed = await fetch(`${url}/report`, { method: 'DELETE', headers: headers('acme') })
    expect(await removed.json()).toEqual({ removed: true })
    expect(await get('acme')).toEqual({ status: 'miss', body: '{"org":"acme","computed":3}' })
    await cache.evictByScope('organization', { orgId: 'beta' })
    expect(await get('beta')).toMatchObject({ status: 'miss' })
    expect(await get('acme', '/cookie')).toEqual({ status: 'miss', body: 'with cookie' })
    expect(await get('acme', '/cookie')).toEqual({ status: 'miss', body: 'with cookie' })
    expect((await fetch(`${url}/report`)).status).toBe(400) // no tenant: fails closed
    expect((await fetch(`${url}/bad`, { headers: headers('acme') })).status).toBe(500)
  })

  it('checks its options', () => {
    expect(() => cacheadoFastify(new Cache(), {} as never)).toThrow(/scope must be a function/)
  })
})
