// Two tiers: an in-process L1 in front of Redis, kept coherent across processes by Redis pub/sub.
import { Cache } from 'cacheado'
import { RedisStorage } from 'cacheado/redis'

export async function main(log: (line: string) => void = console.log, url = 'redis://127.0.0.1:6379') {
  const prefix = `two_tiers_example_${process.pid}`
  // Two caches on one prefix stand for two processes of your app (each has its own L1 and bus).
  const web = new Cache({
    storage: new RedisStorage({ url, prefix }),
    local: { maxItems: 10_000, ttlSeconds: 60 },
  })
  const worker = new Cache({ storage: new RedisStorage({ url, prefix }), local: { maxItems: 10_000 } })
  worker.on('circuitOpen', ({ retryInMs }) => log(`Redis is failing; retrying in ${retryInMs} ms`))
  let messages = 0
  worker.on('busMessage', () => messages++)
  // For this demo only: wait until worker has applied `n` messages (they take one pub/sub hop).
  const applied = async (n: number) => {
    while (messages < n) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await Promise.all([web, worker].map((c) => new Promise((ready) => c.on('busReset', ready)))) // subscribed

  const user = { scope: 'user', orgId: 'acme', userId: 'alice' } as const
  await web.set('profile', { plan: 'free' }, { ...user, ttlSeconds: 600 })
  await applied(1)
  const before = await worker.get('profile', user) // from Redis, now also in worker's L1
  await web.set('profile', { plan: 'pro' }, { ...user, ttlSeconds: 600 }) // worker's copy is dropped
  await applied(2)
  const after = await worker.get('profile', user)
  await web.evictByScope('organization', { orgId: 'acme' }) // every L1 drops acme's copies
  await applied(3)
  const evicted = await worker.get('profile', user)
  log(`worker saw ${JSON.stringify(before)}, then ${JSON.stringify(after)}, then ${String(evicted)}`)

  const received = messages // bus messages applied by worker: two writes and one scope eviction

  await web.clear()
  await Promise.all([web.close(), worker.close()])
  return { before, after, evicted, messages: received }
}
