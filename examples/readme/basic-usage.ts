// The original README's "Basic Usage": zero configuration and a memoized function.
import { Cache } from 'cacheado'

export function main(log: (line: string) => void = console.log) {
  const cache = new Cache() // in-memory, zero configuration

  let runs = 0
  const expensiveCalculation = cache.cache({ ttlSeconds: 300 })(function expensiveCalculation(
    x: number,
    y: number,
  ) {
    runs++ // stands for two seconds of work
    return x * y
  })

  const first = expensiveCalculation(10, 20) // computed
  const second = expensiveCalculation(10, 20) // from the cache, synchronously
  log(
    `expensiveCalculation(10, 20) = ${first}, then ${second} from the cache; the function ran ${runs} time(s)`,
  )
  return { first, second, runs, stats: cache.statsSync() }
}
