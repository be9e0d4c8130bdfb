import assert from 'node:assert/strict'
import type { ScopePath, StorageProvider } from '../storage/contract.js'
import { NASTY_CHARACTERS } from './runner.js'
import type { TestRunner } from './runner.js'
import { sleep } from './cache-cases.js'

/** What the semaphore cases get from `describeStorageConformance`. */
export interface SemaphoreCaseContext {
  /** A new, empty, attached storage (closed after the case). */
  readonly open: () => Promise<StorageProvider>
}

const org = (id: string): ScopePath => [{ level: 'organization', id }]

/**
 * Cases of the optional `locks.semaphores` capability (counting semaphores per scope): skipped for a
 * provider without it.
 */
export function semaphoreCases(runner: TestRunner, { open }: SemaphoreCaseContext): void {
  const { it } = runner

  it('provider (semaphores): at most limit leases per (scope, name), concurrent acquisitions included', async () => {
    const s = await open()
    const semaphores = s.locks?.semaphores
    if (semaphores === undefined) return
    const a = org(`a${NASTY_CHARACTERS.join('')}`)
    const granted = (
      await Promise.all(Array.from({ length: 12 }, () => semaphores.acquire(a, 'g', 3, 10_000)))
    ).filter((lease) => lease !== undefined)
    assert.equal(granted.length, 3, '12 concurrent acquisitions of a limit of 3 grant exactly 3')
    assert.equal(await semaphores.acquire(a, 'g', 3, 10_000), undefined, 'a full semaphore grants nothing')
    assert.ok(await semaphores.acquire(a, 'other', 3, 10_000), 'another name has its own slots')
    assert.ok(await semaphores.acquire(org('b'), 'g', 3, 10_000), 'another scope has its own slots')
    assert.ok(await semaphores.acquire([], 'g', 3, 10_000), 'the global scope has its own slots')
    assert.equal(await semaphores.release({ ...granted[0]!, token: 'not-mine' }), false)
    assert.equal(await semaphores.extend(granted[0]!, 10_000), true)
    assert.equal(await semaphores.release(granted[0]!), true)
    assert.equal(await semaphores.release(granted[0]!), false, 'a lease is released once')
    assert.ok(await semaphores.acquire(a, 'g', 3, 10_000), 'a released slot is free again')
    assert.equal(await s.size(), 0, 'leases are not entries')
  })

  it('provider (semaphores): an expired lease frees its slot and cannot be extended', async () => {
    const s = await open()
    const semaphores = s.locks?.semaphores
    if (semaphores === undefined) return
    const a = org('expiry')
    const short = await semaphores.acquire(a, 'g', 1, 150)
    assert.ok(short !== undefined)
    assert.equal(await semaphores.acquire(a, 'g', 1, 10_000), undefined)
    await sleep(300)
    const next = await semaphores.acquire(a, 'g', 1, 10_000)
    assert.ok(next !== undefined, 'an expired lease frees its slot')
    assert.equal(await semaphores.extend(short, 10_000), false, 'an expired lease cannot be extended')
    await s.evictScope([])
    assert.equal(await semaphores.acquire(a, 'g', 1, 10_000), undefined, 'evictScope leaves leases alone')
    await semaphores.release(next)
  })
}
