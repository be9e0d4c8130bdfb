// cacheado/nestjs in a real NestJS 12 application: the library is built (tsup, as published) into a
// temporary project, the fixtures under nest-fixtures/ are compiled with tsc using the Nest CLI's
// TypeScript settings (experimentalDecorators, emitDecoratorMetadata, module commonjs) and, for the
// decorator alone, with TC39 decorators; then they run, and the app (the README's example,
// examples/readme/nestjs.ts) is driven over real HTTP.
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { libraryConfig } from '../../tsup.config.js'
import { Cache, ConfigurationError } from '../../src/index.js'
import { CACHEADO, CacheadoInterceptor, CacheadoModule } from '../../src/nestjs.js'
import type { CallHandler, ExecutionContext } from '@nestjs/common'
import { firstValueFrom, Observable } from 'rxjs'
import { sleep } from '../support/services.js'

const run = promisify(execFile)
let project: string

/** The Nest CLI's compiler options for a CommonJS application. */
const nestCli = {
  module: 'commonjs',
  declaration: false,
  removeComments: true,
  emitDecoratorMetadata: true,
  experimentalDecorators: true,
  allowSyntheticDefaultImports: true,
  target: 'ES2021',
  skipLibCheck: true,
  strictNullChecks: false,
  noImplicitAny: false,
  types: ['node'],
  // module commonjs resolves packages the node10 way, which ignores package.json `exports`: the entries
  // are mapped to their CommonJS declarations here (one copy of the Cache type for both).
  paths: {
    cacheado: ['./node_modules/cacheado/dist/index.d.cts'],
    'cacheado/nestjs': ['./node_modules/cacheado/dist/nestjs.d.cts'],
  },
}

/** Compiles `files` of the project with `options` into `outDir`; resolves tsc's output. */
async function compile(name: string, files: string[], options: Record<string, unknown>): Promise<void> {
  const tsconfig = { compilerOptions: { ...options, outDir: `./${name}`, rootDir: './src' }, files }
  await writeFile(join(project, `tsconfig.${name}.json`), JSON.stringify(tsconfig))
  const tsc = resolve('node_modules/typescript/bin/tsc')
  await run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], { cwd: project }).catch(
    (error: { stdout: string }) => {
      throw new Error(`tsc (${name}) failed:\n${error.stdout}`)
    },
  )
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'cacheado-nest-'))
  const modules = join(project, 'node_modules')
  await mkdir(join(modules, 'cacheado'), { recursive: true })
  await mkdir(join(modules, '@types'))
  await build({
    ...libraryConfig,
    entry: { index: 'src/index.ts', nestjs: 'src/nestjs.ts' },
    outDir: join(modules, 'cacheado', 'dist'),
    clean: false,
    sourcemap: false,
    config: false,
    silent: true,
  })
  await cp('package.json', join(modules, 'cacheado', 'package.json'))
  for (const name of ['@nestjs', 'rxjs', 'reflect-metadata', 'msgpackr', '@types/node']) {
    await symlink(resolve('node_modules', name), join(modules, name), 'dir')
  }
  await cp(resolve('test/frameworks/nest-fixtures'), join(project, 'src'), { recursive: true })
  // The README's NestJS example is the application.
  await cp(resolve('examples/readme/nestjs.ts'), join(project, 'src', 'app.ts'))
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'nest-fixture', private: true }))
  await compile('legacy', ['src/app.ts', 'src/memo.ts'], nestCli)
  const { experimentalDecorators: _, emitDecoratorMetadata: __, ...tc39 } = nestCli
  await compile('tc39', ['src/memo.ts'], tc39)
}, 180_000)

afterAll(async () => {
  await rm(project, { recursive: true, force: true })
})

const memoExpectation = {
  first: 'bio of alice',
  again: 'bio of alice',
  bob: 'bio of bob',
  failed: 'ScopeError',
  counts: [4, 4],
  calls: 3,
}

describe('@cache.cache() compiled by tsc', () => {
  it('works as a legacy decorator (experimentalDecorators, module commonjs)', async () => {
    const { stdout } = await run(process.execPath, ['legacy/memo.js'], { cwd: project })
    expect(JSON.parse(stdout)).toEqual(memoExpectation)
  })

  it('works as a TC39 decorator (module commonjs)', async () => {
    const { stdout } = await run(process.execPath, ['tc39/memo.js'], { cwd: project })
    expect(JSON.parse(stdout)).toEqual(memoExpectation)
  })
})

describe('cacheado/nestjs in a NestJS application', () => {
  let app: ChildProcess
  let url: string
  beforeAll(async () => {
    app = spawn(process.execPath, ['legacy/app.js'], { cwd: project, stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: app.stdout! })
    url = await new Promise<string>((ready, fail) => {
      lines.once('line', (line) => ready((JSON.parse(line) as { url: string }).url))
      app.once('exit', (code) => fail(new Error(`the Nest app exited with ${code}`)))
    })
  }, 60_000)
  afterAll(async () => {
    const exited = new Promise((done) => app.once('exit', done))
    app.stdin!.end()
    await exited
  })

  const get = async (path: string, org?: string, method = 'GET') => {
    const response = await fetch(`${url}${path}`, { method, headers: org ? { 'x-org-id': org } : {} })
    return { status: response.status, body: (await response.json()) as unknown }
  }

  it('sets each request’s ambient scope; 400 concurrent requests of 20 tenants stay apart', async () => {
    const answers = await Promise.all(
      Array.from({ length: 400 }, async (_, i) => ({
        org: `org${i % 20}`,
        ...(await get('/scope', `org${i % 20}`)),
      })),
    )
    for (const { org, body } of answers) expect(body).toEqual({ orgId: org })
    expect(await get('/scope')).toEqual({ status: 200, body: {} })
  })

  it('memoizes a decorated service method per tenant; evictions are seen by the next request', async () => {
    expect(await get('/report', 'acme')).toEqual({ status: 200, body: { org: 'acme', computed: 1 } })
    expect(await get('/report', 'acme')).toEqual({ status: 200, body: { org: 'acme', computed: 1 } })
    expect(await get('/report', 'beta')).toEqual({ status: 200, body: { org: 'beta', computed: 2 } })
    expect(await get('/report', 'acme', 'DELETE')).toEqual({ status: 200, body: { removed: 1 } })
    expect(await get('/report', 'acme')).toEqual({ status: 200, body: { org: 'acme', computed: 3 } })
    expect(await get('/report', 'beta')).toEqual({ status: 200, body: { org: 'beta', computed: 2 } })
    // no tenant: the organization-scoped method fails closed
    expect((await get('/report')).status).toBe(500)
  })
})

describe('CacheadoInterceptor (in process)', () => {
  const context = {} as ExecutionContext
  /** A CallHandler whose handler answers the ambient scope, as a Nest handler would see it. */
  const handler = (cache: Cache): CallHandler => ({
    handle: () => new Observable((subscriber) => subscriber.next(cache.currentScope() ?? null)),
  })

  it('runs the handler in the scope its resolver answers, sync or async; errors reach the subscriber', async () => {
    const cache = new Cache()
    const run = (resolve: ConstructorParameters<typeof CacheadoInterceptor>[1]) =>
      firstValueFrom(new CacheadoInterceptor(cache, resolve).intercept(context, handler(cache)))
    expect(await run(() => ({ orgId: 'acme' }))).toEqual({ orgId: 'acme' })
    expect(await run(async () => ({ orgId: 'beta' }))).toEqual({ orgId: 'beta' })
    expect(await run(() => undefined)).toBeNull()
    await expect(
      run(() => {
        throw new Error('no tenant')
      }),
    ).rejects.toThrow('no tenant')
    await expect(run(async () => Promise.reject(new Error('later')))).rejects.toThrow('later')
    await expect(run(() => ({ teamId: 'x' }) as never)).rejects.toThrow(/teamId/)
  })

  it('does not run the handler when unsubscribed before an async resolver answers', async () => {
    const cache = new Cache()
    let handled = 0
    const interceptor = new CacheadoInterceptor(cache, () => sleep(5).then(() => ({ orgId: 'acme' })))
    const counting: CallHandler = { handle: () => new Observable(() => void handled++) }
    interceptor.intercept(context, counting).subscribe().unsubscribe()
    await sleep(20)
    expect(handled).toBe(0)
  })
})

describe('CacheadoModule.forRoot', () => {
  it('provides the given cache, or one it creates and closes at shutdown', async () => {
    const cache = new Cache()
    const given = CacheadoModule.forRoot({ cache })
    expect(given).toMatchObject({ module: CacheadoModule, global: true, exports: [CACHEADO] })
    expect(given.providers).toEqual([{ provide: CACHEADO, useValue: cache }])
    const owned = CacheadoModule.forRoot({ options: { defaultTtlSeconds: 5 }, scope: () => undefined })
    const providers = owned.providers as { provide: unknown; useValue: unknown }[]
    const created = providers[0]!.useValue as Cache
    expect(created).toBeInstanceOf(Cache)
    expect(providers[1]!.provide).toBe('APP_INTERCEPTOR')
    expect(providers[1]!.useValue).toBeInstanceOf(CacheadoInterceptor)
    await (providers[2]!.useValue as { onApplicationShutdown(): Promise<void> }).onApplicationShutdown()
    await expect(created.get('k')).rejects.toThrow(/after cache.close/)
    expect(() => CacheadoModule.forRoot(null as never)).toThrow(ConfigurationError)
    expect(() => CacheadoModule.forRoot({ cache: {} as never })).toThrow(ConfigurationError)
    expect(() => new CacheadoInterceptor(cache, 'x' as never)).toThrow(ConfigurationError)
  })
})
