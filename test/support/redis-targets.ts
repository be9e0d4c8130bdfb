import { RedisStorage } from '../../src/redis.js'
import type { RedisStorageOptions } from '../../src/redis.js'
import { redisClusterNodes, redisUrl } from './services.js'

/**
 * A Redis the tests run against: its name, how a peer process reaches it (`PEER_URL` or
 * `PEER_CLUSTER`, read by the peer fixtures), and a storage on it under a given prefix.
 */
export interface RedisTarget {
  readonly name: 'standalone' | 'cluster'
  readonly env: Record<string, string>
  storage(prefix: string): RedisStorage
}

/** The standalone Redis and the Cluster started by `scripts/test-services.sh`, those that are up. */
export function redisTargets(
  options: Omit<RedisStorageOptions, 'url' | 'cluster' | 'client' | 'prefix'> = {},
) {
  const targets: RedisTarget[] = []
  if (redisUrl !== undefined) {
    targets.push({
      name: 'standalone',
      env: { PEER_URL: redisUrl },
      storage: (prefix) => new RedisStorage({ ...options, url: redisUrl, prefix }),
    })
  }
  if (redisClusterNodes !== undefined) {
    const cluster = redisClusterNodes
    targets.push({
      name: 'cluster',
      env: { PEER_CLUSTER: cluster.map((n) => `${n.host}:${n.port}`).join(',') },
      storage: (prefix) => new RedisStorage({ ...options, cluster, prefix }),
    })
  }
  return targets
}
