import { describe, expect, it } from 'vitest'
import { InMemory, MISS } from '../../src/index.js'
import { describeStorageConformance } from './conformance.js'

describeStorageConformance('in-memory', { create: () => new InMemory() })

describe('InMemory through its async contract', () => {
  it('answers every operation as a Promise', async () => {
    const storage = new InMemory()
    storage.attach({ bounds: [], wantsEvictedRefs: false, onEvicted: () => undefined })
    const ref = { scope: [{ level: 'user', id: 'u' }], key: 'k' }
    expect(await storage.get(ref)).toBe(MISS)
    await storage.set(ref, 1, undefined)
    expect(await storage.get(ref)).toBe(1)
    expect(await storage.size()).toBe(1)
    expect(await storage.delete(ref)).toBe(true)
    await storage.set(ref, 1, 1000)
    expect(await storage.evictScope([{ level: 'user', id: 'u' }])).toBe(1)
    await storage.close()
  })
})
