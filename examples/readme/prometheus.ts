// The README's "Prometheus": a /metrics endpoint for a cache, scraped once.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Cache } from 'cacheado'
import { registerPrometheus } from 'cacheado/prometheus'
import { Registry } from 'prom-client'

export async function main(log: (line: string) => void = console.log) {
  // #region prometheus
  const cache = new Cache({ stats: { topN: 100 } })
  const registry = new Registry()
  registerPrometheus(cache, { registry })

  const server = createServer((_req, res) => {
    registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
  })
  // #endregion
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const acme = { scope: 'organization', orgId: 'acme' } as const
    await cache.set('plan', 'pro', acme)
    await cache.get('plan', acme)
    await cache.get('plan', acme)
    await cache.get('plan', { scope: 'organization', orgId: 'globex' })

    const { port } = server.address() as AddressInfo
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const shown =
      /^cacheado_(hits_total|misses_total|entries|scope_(hits|misses)_total\{level="organization"|operation_duration_seconds_count)/
    const lines = text.split('\n').filter((line) => shown.test(line))
    for (const line of lines) log(line)
    return text
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
}
