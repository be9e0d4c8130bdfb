// `npm run demo`: the README's examples on the embedded in-memory default, printing what happens.
import { Cache } from 'cacheado'
import { main as asyncAndProgrammatic } from './readme/async-and-programmatic.js'
import { main as basicUsage } from './readme/basic-usage.js'
import { main as customConfiguration } from './readme/custom-configuration.js'
import { main as multiTenant } from './readme/multi-tenant.js'
import { main as observability } from './readme/observability.js'
import { main as scopeEviction } from './readme/scope-eviction.js'

const step = (title: string) => console.log(`\n== ${title}`)

step('A miss, then a hit')
const cache = new Cache()
const key = { scope: 'user', orgId: 'acme', userId: 'alice' } as const
console.log(`get('greeting') before any set -> ${String(await cache.get('greeting', key))} (a miss)`)
await cache.set('greeting', 'hello, alice', { ...key, ttlSeconds: 60 })
console.log(`get('greeting') after set     -> ${String(await cache.get('greeting', key))} (a hit)`)

step('A scoped eviction')
await cache.set('greeting', 'hello, bob', { scope: 'user', orgId: 'acme', userId: 'bob' })
await cache.set('greeting', 'hello, carol', { scope: 'user', orgId: 'globex', userId: 'carol' })
const removed = await cache.evictByScope('organization', { orgId: 'acme' })
console.log(`evictByScope('organization', { orgId: 'acme' }) removed ${removed} entries`)
console.log(
  `globex's carol is untouched -> ${String(await cache.get('greeting', { scope: 'user', orgId: 'globex', userId: 'carol' }))}`,
)

step('Stats')
console.log(await cache.stats())

step("The original README's examples, in TypeScript")
basicUsage()
await multiTenant()
await asyncAndProgrammatic()
await scopeEviction()
await customConfiguration()
await observability()
