import { describe, expect, it } from 'vitest'
import { PerKeyOrder } from '../../src/storage/mongodb/per-key-order.js'

/** A promise settled from outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}
const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('PerKeyOrder', () => {
  it('a write waits for earlier reads of its key; later reads wait for the write; reads overlap', async () => {
    const order = new PerKeyOrder()
    const log: string[] = []
    const r1 = deferred<string>()
    const r2 = deferred<string>()
    const w = deferred<string>()
    const read1 = order.read('k', () => (log.push('r1'), r1.promise))
    const read2 = order.read('k', () => (log.push('r2'), r2.promise))
    const write = order.write('k', () => (log.push('w'), w.promise))
    const read3 = order.read('k', async () => (log.push('r3'), 'r3'))
    const other = order.write('other', async () => (log.push('other'), 'other'))
    await tick()
    expect(log).toEqual(['r1', 'r2', 'other'])
    r1.resolve('r1')
    await tick()
    expect(log).toEqual(['r1', 'r2', 'other'])
    r2.reject(new Error('read failed')) // a failed read releases the key too
    await tick()
    expect(log).toEqual(['r1', 'r2', 'other', 'w'])
    w.resolve('w')
    expect(await Promise.all([read1, write, read3, other])).toEqual(['r1', 'w', 'r3', 'other'])
    await expect(read2).rejects.toThrow('read failed')
  })

  it('writes of one key run one after the other, even when one fails', async () => {
    const order = new PerKeyOrder()
    const log: string[] = []
    const first = order.write('k', async () => {
      log.push('first')
      throw new Error('boom')
    })
    const second = order.write('k', async () => (log.push('second'), 2))
    await expect(first).rejects.toThrow('boom')
    expect(await second).toBe(2)
    expect(log).toEqual(['first', 'second'])
  })
})
