// The shipped conformance suite (cacheado/testing) is framework-independent: it runs under node:test
// as well as vitest, passes a correct provider, and fails deliberately broken ones.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const fixture = fileURLToPath(new URL('./fixtures/node-test-suite.ts', import.meta.url))

interface Run {
  readonly code: number
  readonly output: string
}

function runUnderNodeTest(provider: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', fixture],
      { env: { ...process.env, CACHEADO_PROVIDER: provider }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ code, output: `${stdout}\n${stderr}` })
      },
    )
  })
}

/** Names of the failed cases in node:test's TAP output. */
const failures = (output: string) =>
  [...output.matchAll(/^\s*not ok \d+ - (.+)$/gm)]
    .map((m) => m[1]!)
    .filter((name) => !name.startsWith('storage conformance'))

describe('cacheado/testing under node:test', () => {
  it('passes a correct provider (the in-memory one)', async () => {
    const run = await runUnderNodeTest('memory')
    expect(failures(run.output)).toEqual([])
    expect(run.output).toMatch(/# pass [1-9]\d*/)
    expect(run.code).toBe(0)
  })

  it('fails a provider whose keys collide for ids containing its separator', async () => {
    const run = await runUnderNodeTest('colliding')
    expect(run.code).not.toBe(0)
    expect(failures(run.output)).toEqual(
      expect.arrayContaining(['keeps tenants apart whatever characters their ids and keys contain']),
    )
  })

  it('fails a provider whose scope eviction misses descendants', async () => {
    const run = await runUnderNodeTest('shallow')
    expect(run.code).not.toBe(0)
    expect(failures(run.output)).toEqual(
      expect.arrayContaining([
        'evictByScope removes the scope and its descendants, counts them, and keeps the rest',
      ]),
    )
  })
})
