// The README's "Grace, stale-while-revalidate and timeouts" in short; grace.ts shows each case at work.
// #region resilience
import { Cache, TimeoutError } from 'cacheado'

const cache = new Cache()
cache.on('error', (error, { operation }) => console.warn(operation, error.message)) // e.g. a failed 'refresh'

const exchangeRate = cache.cache({
  ttlSeconds: 60, // fresh for a minute
  graceSeconds: 3600, // then served stale for up to an hour while it is refreshed, or while the API is down
  softTimeoutMs: 50, // a stale hit waits up to 50 ms for its refresh, then answers the stale value
  hardTimeoutMs: 2000, // nothing usable cached: reject with a TimeoutError after 2 s
})(async function exchangeRate(pair: string) {
  return { pair, rate: 1.08 } // your HTTP call here
})

let rate: { pair: string; rate: number } | undefined
try {
  rate = await exchangeRate('EUR/USD')
} catch (error) {
  if (!(error instanceof TimeoutError)) throw error
  // nothing cached and the API is slow: its late result is stored when it arrives
}
// #endregion

export { rate }
await cache.close()
