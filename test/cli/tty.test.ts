// `evict` in a real terminal: `script` gives the CLI subprocess a pseudo-terminal, so stdin.isTTY and
// stderr.isTTY are the real ones; the answer is typed into that terminal.
import { execFile, execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { Cache } from '../../src/index.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'
import { seed } from './fixtures/seed.js'

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** Runs the CLI from the sources inside `script`, typing `answer` after a moment. */
function inTerminal(args: readonly string[], answer: string): Promise<{ code: number; output: string }> {
  const command = ['node', '--import', 'tsx', 'src/cli/main.ts', ...args].map((a) => `'${a}'`).join(' ')
  return new Promise((resolve) => {
    const child = execFile(
      'script',
      ['--quiet', '--return', '--command', command, '/dev/null'],
      { cwd: process.cwd(), timeout: 30_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, output: stdout }),
    )
    // Typed once the prompt is up; the terminal echoes it.
    setTimeout(() => child.stdin?.end(answer), 1500)
  })
}

describe.skipIf(!redisUrl || !hasScript)('cacheado evict in a real terminal', () => {
  it('asks, evicts on "y" with a progress bar, and keeps the data on "n"', async () => {
    const prefix = uniqueName('tty')
    await seed(new RedisStorage({ url: redisUrl!, prefix }))
    const cache = new Cache({ storage: new RedisStorage({ url: redisUrl!, prefix }) })
    try {
      const args = ['evict', 'organization', 'orgId=o1', '--url', redisUrl!, '--prefix', prefix]
      const declined = await inTerminal(args, 'n\n')
      expect(declined.code).toBe(1)
      expect(declined.output).toContain(`Evict 6 live entries of scope organization=o1 from ${redisUrl}`)
      expect(declined.output).toContain('not confirmed; nothing was evicted')
      expect((await cache.stats()).totalKeys).toBe(9)

      const confirmed = await inTerminal(args, 'y\n')
      expect(confirmed.code).toBe(0)
      expect(confirmed.output).toContain('This cannot be undone. [y/N] ')
      expect(confirmed.output).toContain('\revicting [##############################] 100% 6/6')
      expect(confirmed.output).toMatch(/evicted 6 entries of scope organization=o1 in \d+ ms/)
      expect((await cache.stats()).totalKeys).toBe(3)
    } finally {
      await cache.close()
    }
  })
})
