// "Grace and stale-while-revalidate": a stale rate is served at once while one refresh runs; a failing
// refresh keeps the stale rate; a miss slower than hardTimeoutMs rejects with a TimeoutError.
import { Cache, TimeoutError } from 'cacheado'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function main(log: (line: string) => void = console.log) {
  const cache = new Cache()
  cache.on('error', (error, { operation }) => log(`error event (${operation}): ${error.message}`))

  let fetches = 0
  let upstreamDown = false
  const exchangeRate = cache.cache({ ttlSeconds: 0.5, graceSeconds: 60, softTimeoutMs: 50 })(
    async function exchangeRate(pair: string) {
      fetches++
      await sleep(100) // slower than softTimeoutMs: a stale hit does not wait for it
      if (upstreamDown) throw new Error('rates API unavailable')
      return { pair, rate: 1.08 + fetches / 100 }
    },
  )

  const first = await exchangeRate('EUR/USD') // a miss: waits for the function
  await sleep(600) // now stale, still within the grace period
  const stale = await exchangeRate('EUR/USD') // the stale rate after 50 ms; one refresh runs
  await sleep(250)
  const refreshed = await exchangeRate('EUR/USD') // the refreshed rate, fresh again
  upstreamDown = true
  await sleep(600)
  const servedWhileDown = await exchangeRate('EUR/USD') // refresh fails: still the last good rate
  await sleep(150)
  log(
    `first ${first.rate}, stale ${stale.rate}, refreshed ${refreshed.rate}, while down ${servedWhileDown.rate}`,
  )

  const report = cache.cache({ hardTimeoutMs: 50 })(async function report() {
    await sleep(200)
    return 'done'
  })
  let timedOut = false
  try {
    await report()
  } catch (error) {
    timedOut = error instanceof TimeoutError
    log(`report(): ${(error as Error).message}`)
  }
  await sleep(200)
  const late = await report() // the late result was stored when it arrived
  await cache.close()
  return {
    first: first.rate,
    stale: stale.rate,
    refreshed: refreshed.rate,
    servedWhileDown: servedWhileDown.rate,
    fetches,
    timedOut,
    late,
  }
}
