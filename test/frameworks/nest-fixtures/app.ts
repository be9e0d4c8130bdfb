// A NestJS application compiled by test/frameworks/nestjs.test.ts with the Nest CLI's TypeScript settings
// (experimentalDecorators, emitDecoratorMetadata, module commonjs), then run over real HTTP.
import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { Controller, Delete, Get, Inject, Injectable, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { Cache } from 'cacheado'
import { CACHEADO, CacheadoModule } from 'cacheado/nestjs'

export const cache = new Cache()
let computed = 0

@Injectable()
export class ReportService {
  constructor(@Inject(CACHEADO) private readonly cache: Cache) {}

  @cache.cache({ scope: 'organization', ttlSeconds: 60 })
  async report(): Promise<{ org: string | undefined; computed: number }> {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
    computed++
    return { org: this.cache.currentScope()?.orgId, computed }
  }

  evict(): Promise<number> {
    return this.cache.evictByScope('organization')
  }
}

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

interface HttpRequest {
  headers: Record<string, string | undefined>
}

@Module({
  imports: [
    CacheadoModule.forRoot({
      cache,
      scope: (context) => {
        const orgId = context.switchToHttp().getRequest<HttpRequest>().headers['x-org-id']
        return orgId === undefined ? undefined : { orgId }
      },
    }),
  ],
  controllers: [ReportController],
  providers: [ReportService],
})
class AppModule {}

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
