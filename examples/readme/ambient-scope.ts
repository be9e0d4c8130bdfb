// The README's "Ambient scope": the request's tenant set once, every scoped call inside takes it.
// #region ambient
import { Cache, ScopeError } from 'cacheado'

const cache = new Cache()
const loadPlan = cache.cache({ scope: 'organization', ttlSeconds: 60 })(async function loadPlan() {
  return { plan: 'pro', org: cache.currentScope()?.orgId } // your query for the ambient organization
})

// Once per request (the Express, Fastify and NestJS integrations do it for you)
const answer = await cache.runInScope({ orgId: 'acme', userId: 'alice' }, async () => {
  await cache.set('cart', ['book'], { scope: 'user' }) // stored under acme > alice
  const cart = await cache.get('cart', { scope: 'user' })
  const plan = await loadPlan() // stored under acme
  let refused = ''
  try {
    await cache.get('cart', { scope: 'user', orgId: 'beta', userId: 'bob' }) // an id from user input
  } catch (error) {
    if (error instanceof ScopeError) refused = error.message // ...differs from the ambient one
  }
  const admin = await cache.get('cart', { scope: 'user', orgId: 'beta', userId: 'bob', crossScope: true })
  return { cart, plan, refused, admin }
})

// Outside every scope, a scoped call without parameters fails closed: never a global entry
const outside = await cache.get('cart', { scope: 'user' }).catch((error: Error) => error.name) // 'ScopeError'
// #endregion

export { answer, outside }
