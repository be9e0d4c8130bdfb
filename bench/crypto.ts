/**
 * The crypto suite (issue 15 item 5): what compression and per-tenant encryption (`SerializerPipeline`)
 * cost on Redis, beside the plain msgpack serializer, in one run.
 *
 * - `cpu`: serialize and deserialize of the 5 KB value in process, per pipeline (no server).
 * - `size`: serialized bytes of three values (a small object under the compression threshold, a 5 KB
 *   list of records, a 60 KB report) with each pipeline. No timing.
 * - `get`, `set`: sequential get-hit and set (with a TTL) through `RedisStorage` on the server in
 *   `CACHEADO_REDIS_URL`, one tenant-scoped key of 1 024 per call, value = the 5 KB list, per pipeline.
 *   The first row (plain msgpack) is the reference: `ours / this` is how many times faster plain is.
 *
 * Run: `bash scripts/test-services.sh npm run bench -- --node both crypto`.
 */
import { randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import { MsgpackSerializer, SerializerPipeline } from '../src/index.js'
import type { Serializer, SerializerPipelineOptions } from '../src/index.js'
import { RedisStorage } from '../src/redis.js'
import type { EntryRef } from '../src/index.js'
import type { Case, MeasureOptions } from './harness.js'
import { measure } from './harness.js'
import type { Scenario, Section, Suite } from './report.js'
import { ratioSection, runScenarios } from './report.js'

const URL_ = process.env.CACHEADO_REDIS_URL
const KEYS = 1024
const MASK = KEYS - 1
const RUN = `cacheado_bench_crypto_${process.pid}_${Date.now().toString(36)}`
const OPTIONS: MeasureOptions = { rounds: 15, targetRoundMs: 150, minOps: 128, maxOps: 65_536 }

const record = (i: number) => ({
  id: i,
  name: `customer ${i}`,
  email: `customer${i}@example.com`,
  plan: i % 3 === 0 ? 'enterprise' : 'team',
  seats: i * 7,
  createdAt: new Date(1_700_000_000_000 + i * 86_400_000),
})
const VALUES = {
  'small object (90 B)': { id: 42, name: 'a typical small cached object', tags: ['a', 'b'], at: new Date(0) },
  'list of 40 records (5 KB)': Array.from({ length: 40 }, (_, i) => record(i)),
  'report (60 KB)': Array.from({ length: 480 }, (_, i) => record(i)),
}
const MEDIUM = VALUES['list of 40 records (5 KB)']

const hasZstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'
const tenantKey = { id: 'k1', key: randomBytes(32) }
const encryption = { keys: () => tenantKey }

/** The pipelines compared, the plain serializer first. */
function pipelines(): [string, Serializer][] {
  const make = (options: SerializerPipelineOptions) => new SerializerPipeline(options)
  return [
    ['plain msgpack', new MsgpackSerializer()],
    ['gzip', make({ compression: 'gzip' })],
    ['brotli', make({ compression: 'brotli' })],
    ...(hasZstd ? ([['zstd', make({ compression: 'zstd' })]] as [string, Serializer][]) : []),
    ['aes-256-gcm', make({ encryption })],
    ['gzip + aes-256-gcm', make({ compression: 'gzip', encryption })],
    ...(hasZstd
      ? ([['zstd + aes-256-gcm', make({ compression: 'zstd', encryption })]] as [string, Serializer][])
      : []),
  ]
}

const refOf = (i: number): EntryRef => ({
  scope: [{ level: 'organization', id: `org${i & 7}` }],
  key: `k${i & MASK}`,
})

function sizeScenario(): Section[] {
  const ref = refOf(0)
  const rows = pipelines().map(([name, serializer]) => [
    name,
    ...Object.values(VALUES).map((value) => {
      const pipeline = serializer as Serializer & { serializeEntry?: (v: unknown, r: EntryRef) => Uint8Array }
      const bytes = pipeline.serializeEntry?.(value, ref) ?? serializer.serialize(value)
      return String(bytes.byteLength)
    }),
  ])
  return [
    {
      title: 'Serialized size (bytes)',
      notes: [
        'Compression applies at 1 024 bytes and more (the default threshold); encryption adds a header, an IV and a tag (~37 bytes).',
      ],
      headers: ['pipeline', ...Object.keys(VALUES)],
      rows,
    },
  ]
}

async function redisScenario(kind: 'get' | 'set'): Promise<Section[]> {
  if (URL_ === undefined) {
    return [
      { title: `Redis ${kind}`, notes: ['not run: CACHEADO_REDIS_URL is not set'], headers: [], rows: [] },
    ]
  }
  const storages: RedisStorage[] = []
  const cases: Case[] = pipelines().map(([name, serializer]) => {
    const storage = new RedisStorage({ url: URL_, prefix: `${RUN}_${kind}_${storages.length}`, serializer })
    storage.attach({ bounds: [], onEvicted: () => undefined, wantsEvictedRefs: false })
    storages.push(storage)
    return {
      name,
      setup: async () => {
        for (let i = 0; i < KEYS; i++) await storage.set(refOf(i), MEDIUM, 600_000)
      },
      run: async (ops: number) => {
        if (kind === 'get') for (let i = 0; i < ops; i++) await storage.get(refOf(i))
        else for (let i = 0; i < ops; i++) await storage.set(refOf(i), MEDIUM, 600_000)
      },
    }
  })
  const results = await measure(cases, OPTIONS)
  for (const storage of storages) {
    await storage.evictScope([])
    await storage.close()
  }
  return [
    ratioSection(`Redis ${kind} (sequential), 5 KB value`, results, 'plain msgpack', [
      `${KEYS} keys over 8 tenants; RedisStorage without a cache around it. "ours / this": plain msgpack's throughput over this pipeline's.`,
    ]),
  ]
}

type EntryCodec = Serializer & {
  serializeEntry?: (value: unknown, ref: EntryRef) => Uint8Array
  deserializeEntry?: (bytes: Uint8Array, ref: EntryRef) => unknown
}

/** In-process CPU cost of encoding and decoding the 5 KB value, per pipeline (no server). */
async function cpuScenario(): Promise<Section[]> {
  const ref = refOf(0)
  const list = pipelines() as [string, EntryCodec][]
  const encode = (codec: EntryCodec) => codec.serializeEntry?.(MEDIUM, ref) ?? codec.serialize(MEDIUM)
  const sections: Section[] = []
  for (const kind of ['serialize', 'deserialize'] as const) {
    const cases: Case[] = list.map(([name, codec]) => {
      const bytes = encode(codec)
      return {
        name,
        run: (ops: number) => {
          let last: unknown
          for (let i = 0; i < ops; i++) {
            last =
              kind === 'serialize'
                ? encode(codec)
                : (codec.deserializeEntry?.(bytes, ref) ?? codec.deserialize(bytes))
          }
          return last
        },
      }
    })
    const results = await measure(cases, { rounds: 11, targetRoundMs: 60, minOps: 64, maxOps: 65_536 })
    sections.push(
      ratioSection(`${kind} of the 5 KB value, in process`, results, 'plain msgpack', [
        "No server: the pipeline's own CPU cost. \"ours / this\": plain msgpack's throughput over this pipeline's.",
      ]),
    )
  }
  return sections
}

const scenarios: Scenario[] = [
  { name: 'size', run: sizeScenario },
  { name: 'cpu', run: cpuScenario },
  { name: 'get', run: () => redisScenario('get') },
  { name: 'set', run: () => redisScenario('set') },
]

export const suite: Suite = {
  name: 'crypto',
  description:
    'SerializerPipeline: serialized size and Redis get/set throughput with compression and encryption',
  scenarios: scenarios.map((s) => s.name),
  run: (context) => runScenarios(scenarios, context),
}
