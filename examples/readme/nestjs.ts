// The README's "NestJS". A NestJS application that test/frameworks/nestjs.test.ts compiles with the Nest
// CLI's TypeScript settings (experimentalDecorators, emitDecoratorMetadata, module commonjs) and runs
// over real HTTP. It is not type-checked with the rest of the repository (its settings differ).
import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { NestFactory } from '@nestjs/core'
// #region nestjs
import { Controller, Delete, Get, Inject, Injectable, Module } from '@nestjs/common'
import type { ExecutionContext } from '@nestjs/common'
import { Cache } from 'cacheado'
import { CACHEADO, CacheadoModule } from 'cacheado/nestjs'

export const cache = new Cache()

@Injectable()
export class ReportService {
  constructor(@Inject(CACHEADO) private readonly cache: Cache) {}

  @cache.cache({ scope: 'organization', ttlSeconds: 60 }) // legacy or TC39 decorators alike
  async report(): Promise<{ org: string | undefined; computed: number }> {
    return { org: this.cache.currentScope()?.orgId, computed: ++computed } // your query
  }

  evict(): Promise<number> {
    return this.cache.evictByScope('organization') // the ambient organization's entries
  }
}

/** The tenant of a call: here a header, in your app a JWT claim or the session. */
const tenantOf = (context: ExecutionContext) => {
  const orgId = context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-org-id']
  return orgId === undefined ? undefined : { orgId }
}
// #endregion
let computed = 0

@Controller()
export class ReportController {
  // Injected by type: emitDecoratorMetadata at work.
  constructor(private readonly reports: ReportService) {}

  @Get('report')
  report() {
    return this.reports.report()
  }

  @Delete('report')
  async evict() {
    return { removed: await this.reports.evict() }
  }

  @Get('scope')
  async scope() {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
    return cache.currentScope() ?? {}
  }
}

// #region nestjs-module
@Module({
  imports: [CacheadoModule.forRoot({ cache, scope: tenantOf })], // or forRoot({ options: { ... } })
  controllers: [ReportController],
  providers: [ReportService],
})
class AppModule {}
// #endregion

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: false })
  await app.listen(0, '127.0.0.1')
  const { port } = app.getHttpServer().address() as AddressInfo
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }))
  // The test ends the app by closing its stdin.
  process.stdin.resume()
  process.stdin.on('end', () => void app.close().then(() => process.exit(0)))
}

void main()
