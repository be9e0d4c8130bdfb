// Compiled twice by test/frameworks/nestjs.test.ts: with experimentalDecorators (legacy decorators, as
// NestJS compiles) and without (TC39 decorators). The same @cache.cache() works in both.
import { Cache } from 'cacheado'

const cache = new Cache()
let calls = 0

class Profiles {
  @cache.cache({ scope: 'user', ttlSeconds: 60 })
  async profile(section: string): Promise<string> {
    calls++
    return `${section} of ${cache.currentScope()?.userId}`
  }

  @cache.cache({ namespace: 'Profiles.count' })
  count(n: number): number {
    calls++
    return n * 2
  }
}

async function main(): Promise<void> {
  const profiles = new Profiles()
  const alice = { orgId: 'acme', userId: 'alice' }
  const first = await cache.runInScope(alice, () => profiles.profile('bio'))
  const again = await cache.runInScope(alice, () => profiles.profile('bio'))
  const bob = await cache.runInScope({ orgId: 'acme', userId: 'bob' }, () => profiles.profile('bio'))
  let failed = ''
  await profiles.profile('bio').catch((error: Error) => (failed = error.name))
  const counts = [profiles.count(2), profiles.count(2)]
  console.log(JSON.stringify({ first, again, bob, failed, counts, calls }))
}

void main()
