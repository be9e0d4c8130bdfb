import { createServer } from 'node:net'
/**
 * Where the real servers started by `scripts/test-services.sh` are. Under `npm test` (CACHEADO_SERVICES=1)
 * a missing server is an error; a bare `vitest run` without the script skips the server suites.
 */
const required = process.env.CACHEADO_SERVICES === '1'

function service(variable: string): string | undefined {
  const value = process.env[variable]
  if (!value && required)
    throw new Error(`${variable} is not set although CACHEADO_SERVICES=1; run tests through npm test`)
  return value || undefined
}

/** `redis://127.0.0.1:PORT` of the standalone test Redis. */
export const redisUrl = service('CACHEADO_REDIS_URL')
/** `host:port` of each master of the test Redis Cluster. */
export const redisClusterNodes = service('CACHEADO_REDIS_CLUSTER_NODES')
  ?.split(',')
  .map((node) => {
    const [host, port] = node.split(':')
    return { host: host!, port: Number(port) }
  })
/** `mongodb://127.0.0.1:PORT` of the test FerretDB. */
export const mongoUrl = service('CACHEADO_MONGODB_URL')
/** Path of `redis-server`, for tests that start and stop their own server. */
export const redisServerBin = process.env.CACHEADO_REDIS_SERVER_BIN || 'redis-server'
/** Path of the FerretDB binary, for tests that start and stop their own server. */
export const ferretdbBin = process.env.CACHEADO_FERRETDB_BIN

let counter = 0
/** A name no other test (or test run) uses, for prefixes and collections. */
export function uniqueName(base: string): string {
  return `${base}_${process.pid}_${Date.now().toString(36)}_${counter++}`
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A TCP port on 127.0.0.1 that was free a moment ago, for tests that start their own server. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
