import { describe, expect, it } from 'vitest'
import { Deadlines } from '../../src/storage/redis/deadlines.js'

const never = () => new Promise<never>(() => undefined)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const timedOut = () => new Error('timed out')

describe('Deadlines (one timer for the timeouts of many operations)', () => {
  it('passes through what settles in time, value and error alike', async () => {
    const deadlines = new Deadlines(200, timedOut)
    await expect(deadlines.race(Promise.resolve(7))).resolves.toBe(7)
    await expect(deadlines.race(Promise.reject(new Error('refused')))).rejects.toThrow('refused')
    await expect(deadlines.race(Promise.reject('text'))).rejects.toThrow('text')
    deadlines.stop()
  })

  it('rejects an operation that has not settled, not before its timeout', async () => {
    const deadlines = new Deadlines(80, timedOut)
    const started = performance.now()
    let rejectedAt = 0
    const outcome = deadlines.race(never()).catch((error: unknown) => {
      rejectedAt = performance.now()
      return error
    })
    await sleep(40)
    expect(rejectedAt).toBe(0)
    expect(await outcome).toEqual(timedOut())
    expect(rejectedAt - started).toBeGreaterThanOrEqual(79)
    expect(deadlines.size).toBe(0)
  })

  it('times out each stalled operation of many, at its own deadline, and no settled one', async () => {
    const deadlines = new Deadlines(60, timedOut)
    const results: Promise<string>[] = []
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 500; i++) {
        const op = i % 2 === 0 ? Promise.resolve(`ok ${round}`) : never()
        results.push(deadlines.race(op).catch(() => 'timed out'))
      }
      await sleep(25)
    }
    const settled = await Promise.all(results)
    expect(settled.filter((r) => r === 'timed out')).toHaveLength(750)
    expect(settled.filter((r) => r.startsWith('ok'))).toHaveLength(750)
    expect(deadlines.size).toBe(0)
  })

  it('absorbs a settlement that comes after the timeout', async () => {
    const deadlines = new Deadlines(30, timedOut)
    let settle: (value: string) => void = () => undefined
    const late = new Promise<string>((resolve) => (settle = resolve))
    await expect(deadlines.race(late)).rejects.toThrow('timed out')
    settle('too late')
    await sleep(5)
    expect(deadlines.size).toBe(0)
  })

  it('keeps its queue as short as the operations in flight while replies come back in order', async () => {
    const deadlines = new Deadlines(10_000, timedOut)
    for (let i = 0; i < 5000; i++) await deadlines.race(Promise.resolve(i))
    deadlines.race(never()).catch(() => undefined)
    expect(deadlines.size).toBe(1)
    deadlines.stop()
    expect(deadlines.size).toBe(0)
  })

  it('stop() leaves pending operations untimed', async () => {
    const deadlines = new Deadlines(20, timedOut)
    let rejected = false
    deadlines.race(never()).catch(() => (rejected = true))
    deadlines.stop()
    await sleep(50)
    expect(rejected).toBe(false)
  })
})
