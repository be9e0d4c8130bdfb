import type { StorageProvider } from '../../src/index.js'
import { MongoDBStorage } from '../../src/mongodb.js'
import { redisTargets } from './redis-targets.js'
import { mongoUrl, uniqueName } from './services.js'

/** A shared backend a test runs against: its name and a new, empty storage on it. */
export interface SharedStorage {
  readonly name: string
  readonly make: () => StorageProvider
}

/**
 * The shared backends started by `scripts/test-services.sh` that are up (standalone Redis, Redis
 * Cluster, FerretDB), each making storages under fresh prefixes / collections named after `base`.
 */
export function sharedStorages(base: string): SharedStorage[] {
  const storages: SharedStorage[] = redisTargets().map((target) => ({
    name: `redis ${target.name}`,
    make: () => target.storage(uniqueName(base)),
  }))
  if (mongoUrl !== undefined) {
    const url = mongoUrl
    storages.push({
      name: 'ferretdb',
      make: () => new MongoDBStorage({ url, dbName: 'cacheado_test', collectionName: uniqueName(base) }),
    })
  }
  return storages
}
