// The shipped conformance suite (cacheado/testing) under real jest: test/jest/conformance.jest.ts,
// started as a child process with test/jest/jest.config.json (TypeScript through esbuild), passes a
// correct provider and fails deliberately broken ones, naming the cases that caught them.
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const jestBin = createRequire(import.meta.url).resolve('jest/bin/jest')
const config = fileURLToPath(new URL('../jest/jest.config.json', import.meta.url))

/** What jest's `--json` report says of one run. */
interface JestReport {
  readonly numPassedTests: number
  readonly numFailedTests: number
  readonly numFailedTestSuites: number
  readonly testResults: readonly {
    readonly assertionResults: readonly { readonly title: string; readonly status: string }[]
  }[]
}

interface Run {
  readonly code: number
  readonly report: JestReport
  readonly stderr: string
}

function runUnderJest(provider: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [jestBin, '--config', config, '--json', '--ci'],
      { cwd: root, env: { ...process.env, CACHEADO_PROVIDER: provider }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        try {
          resolve({ code, report: JSON.parse(stdout) as JestReport, stderr })
        } catch {
          reject(new Error(`jest printed no JSON report (exit ${code}):\n${stdout}\n${stderr}`))
        }
      },
    )
  })
}

const failed = (report: JestReport) =>
  report.testResults.flatMap((file) =>
    file.assertionResults.filter((a) => a.status === 'failed').map((a) => a.title),
  )

describe('cacheado/testing under jest', () => {
  it('passes a correct provider (the in-memory one), every case run', async () => {
    const run = await runUnderJest('memory')
    expect(failed(run.report), run.stderr).toEqual([])
    expect(run.report.numFailedTestSuites).toBe(0)
    expect(run.report.numPassedTests).toBeGreaterThanOrEqual(40)
    expect(run.code).toBe(0)
  }, 60_000)

  it('fails a provider whose keys collide for ids containing its separator', async () => {
    const run = await runUnderJest('colliding')
    expect(run.code).not.toBe(0)
    expect(failed(run.report)).toEqual(
      expect.arrayContaining(['keeps tenants apart whatever characters their ids and keys contain']),
    )
  }, 60_000)

  it('fails a provider whose scope eviction misses descendants', async () => {
    const run = await runUnderJest('shallow')
    expect(run.code).not.toBe(0)
    expect(failed(run.report)).toEqual(
      expect.arrayContaining([
        'evictByScope removes the scope and its descendants, counts them, and keeps the rest',
      ]),
    )
  }, 60_000)
})
