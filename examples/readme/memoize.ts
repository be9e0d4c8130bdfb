// The README's "Memoization": sync functions, positional scope parameters, derived keys, decorators.
import { Cache } from 'cacheado'

const cache = new Cache()
const db = {
  queries: 0,
  price: (sku: string) => ++db.queries && sku.length * 100,
  order: (orgId: string, userId: string, id: number) => ({ orgId, userId, id }),
  invoice: (id: string) => ({ id, total: 42 }),
}

// #region memoize
// Sync stays sync over the in-memory storage
const price = cache.cache({ ttlSeconds: 60 })(function price(sku: string) {
  return db.price(sku)
})
price('A-1') // 300, computed
price('A-1') // 300, from the cache, synchronously

// Positional scope parameters, and a key derived from the arguments
const getOrder = cache.cache({
  scope: 'user',
  scopeParams: (orgId: string, userId: string) => ({ orgId, userId }),
  key: (_orgId: string, _userId: string, orderId: number) => orderId,
  namespace: 'orders', // explicit: processes sharing Redis or MongoDB must agree on it
})(async function getOrder(orgId: string, userId: string, orderId: number) {
  return db.order(orgId, userId, orderId)
})

// A TC39 method decorator; `this` is not part of the key
class Invoices {
  @cache.cache({ scope: 'organization', ttlSeconds: 300 })
  async find(args: { orgId: string; id: string }) {
    return db.invoice(args.id)
  }
}
// #endregion

const order = await getOrder('acme', 'ann', 7)
const invoices = new Invoices()
await invoices.find({ orgId: 'acme', id: 'in-1' })
const invoice = await new Invoices().find({ orgId: 'acme', id: 'in-1' })
export const result = { queries: db.queries, price: price('A-1'), order, invoice, stats: cache.statsSync() }
await cache.close()
