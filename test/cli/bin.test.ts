// The built `cacheado` bin (tsup's CLI config, built here into a temporary directory), run the way
// `npx cacheado` runs it: a package whose node_modules holds only what was installed.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliConfig } from '../../tsup.config.js'
import { RedisStorage } from '../../src/redis.js'
import { redisUrl, uniqueName } from '../support/services.js'
import type { CliResult } from './helpers.js'
import { seed } from './fixtures/seed.js'

let project: string
let bin: string

/** Runs the built bin with `node`, in the temporary project. */
function runBin(args: readonly string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { cwd: project, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code) : 0, stdout, stderr })
    })
  })
}

/** "Installs" a package of this checkout into the temporary project. */
async function install(name: string): Promise<void> {
  await symlink(resolve('node_modules', name), join(project, 'node_modules', name), 'dir')
}

describe('the built bin', () => {
  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'cacheado-bin-'))
    await mkdir(join(project, 'node_modules'))
    const outDir = join(project, 'node_modules', 'cacheado', 'dist', 'bin')
    await build({ ...cliConfig, outDir, config: false, silent: true })
    bin = join(outDir, 'cli.js')
    await install('msgpackr')
  }, 60_000)
  afterAll(async () => {
    await rm(project, { recursive: true, force: true })
  })

  it('starts with a shebang and prints its help without any backend installed', async () => {
    const { readFile } = await import('node:fs/promises')
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true)
    const help = await runBin(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: cacheado <command> [scope] [options]')
  })

  it('names the package to install when the URL needs a missing driver', async () => {
    const redis = await runBin(['stats', '--url', 'redis://127.0.0.1:1'])
    expect(redis).toMatchObject({ code: 1 })
    expect(redis.stderr).toBe(
      'cacheado: error: this URL needs the "ioredis" package, which is not installed: npm i ioredis\n',
    )
    const mongo = await runBin(['stats', '--url', 'mongodb://127.0.0.1:1'])
    expect(mongo.stderr).toContain('npm i mongodb')
  })

  it.skipIf(!redisUrl)('reads a real Redis once ioredis is installed', async () => {
    const prefix = uniqueName('bin')
    await seed(new RedisStorage({ url: redisUrl!, prefix }))
    await install('ioredis')
    const result = await runBin(['stats', '--url', redisUrl!, '--prefix', prefix, '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ entries: 9, scopes: 4 })
  })
})
