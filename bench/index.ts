/**
 * `npm run bench [-- [--node 24|20|both] <suite>[:<scenario>,...] ...]`: runs the benchmark suites named
 * on the command line (all of them if none), prints a table per scenario and, on a full run, writes the
 * whole result as Markdown to `bench/results/node<major>.md`.
 *
 * It runs on Node 24 by default (what our users run; the binary comes from `scripts/with-node24.sh`),
 * on the machine's Node with `--node 20`, and on both, one after the other, with `--node both`.
 *
 * Examples: `npm run bench`, `npm run bench -- --node both`, `npm run bench -- memory:mix,heap`.
 *
 * A suite is a module in this folder exporting `suite` (see {@link Suite}). A suite that needs a server
 * names its environment variable below and is skipped, with a note, when the variable is not set.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { format, resolveConfig } from 'prettier'
import { hasGc } from './harness.js'
import type { Section, Suite, SuiteModule } from './report.js'
import { renderMarkdown, renderTargetsMarkdown, renderText } from './report.js'

/** A suite the runner knows about: its module file and the server it needs, if any. */
interface SuiteEntry {
  readonly name: string
  /** Module file, relative to this folder. */
  readonly file: string
  /** Environment variable holding the server URL; the suite is skipped when it is missing. */
  readonly env?: string
  /**
   * A suite of its own: it runs only when named on the command line, and a run of all its scenarios
   * writes `results/<name>-node<major>.md` instead of joining `node<major>.md`.
   */
  readonly own?: boolean
  /** The issue whose targets the suite checks (default 2, the first benchmark's). */
  readonly issue?: number
}

const REGISTRY: readonly SuiteEntry[] = [
  { name: 'memory', file: 'memory.ts' },
  { name: 'redis', file: 'redis.ts', env: 'CACHEADO_REDIS_URL' },
  { name: 'mongodb', file: 'mongodb.ts', env: 'CACHEADO_MONGODB_URL' },
  { name: 'tiered', file: 'tiered.ts', env: 'CACHEADO_REDIS_URL' },
  { name: 'ambient', file: 'ambient.ts' },
  { name: 'getorset', file: 'get-or-set.ts' },
  { name: 'hit-ratio', file: 'hit-ratio.ts', own: true, issue: 15 },
  { name: 'crypto', file: 'crypto.ts', env: 'CACHEADO_REDIS_URL', own: true, issue: 15 },
  { name: 'fairness', file: 'fairness.ts', own: true, issue: 15 },
]

const HERE = fileURLToPath(new URL('.', import.meta.url))

/** The Node versions `--node` accepts; 24 is the default. */
const RUNTIMES = ['24', '20', 'both'] as const
type Runtime = (typeof RUNTIMES)[number]

/** Splits `--node <v>` (or `--node=<v>`) off the suite selection. */
function parseRuntime(args: readonly string[]): { runtime: Runtime; rest: string[] } {
  const rest: string[] = []
  let runtime: string = '24'
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--node') runtime = args[++i] ?? ''
    else if (arg.startsWith('--node=')) runtime = arg.slice('--node='.length)
    else rest.push(arg)
  }
  if (!(RUNTIMES as readonly string[]).includes(runtime)) {
    throw new Error(`--node takes one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(runtime)}`)
  }
  return { runtime: runtime as Runtime, rest }
}

/** Parses `memory:mix,heap redis` into suite name -> selected scenarios (empty: all). */
function parseSelection(args: readonly string[]): Map<string, string[]> {
  const selection = new Map<string, string[]>()
  for (const arg of args) {
    const [name, scenarios] = arg.split(':', 2) as [string, string | undefined]
    if (!REGISTRY.some((s) => s.name === name)) {
      throw new Error(
        `unknown suite ${JSON.stringify(name)}; known: ${REGISTRY.map((s) => s.name).join(', ')}`,
      )
    }
    selection.set(name, scenarios === undefined ? [] : scenarios.split(',').filter((s) => s !== ''))
  }
  return selection
}

function isSuiteModule(value: unknown): value is SuiteModule {
  const suite = (value as { suite?: Partial<Suite> } | null)?.suite
  return typeof suite?.name === 'string' && typeof suite.run === 'function'
}

/** Date, Node version, CPUs and CPU model, for the report header. */
function machine(): string[] {
  let cpu = 'unknown'
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu
  } catch {
    // Not Linux: the model stays unknown.
  }
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(availableParallelism())
  return [
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version} (${process.platform} ${process.arch})`,
    `- nproc: ${nproc}; CPU: ${cpu}; RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- load average at start (1/5/15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}`,
    '- method: each case warmed up and calibrated, then the cases of a table timed round-robin (11 rounds in memory, 15 redis (31 for its sequential tables), 7 tiered, 5 mongodb); ' +
      'ops/s is the median round, "ours / this" the median of per-round ratios, "best rounds" the ratio of the fastest rounds, "range" the slowest and fastest round.',
  ]
}

async function main(): Promise<void> {
  const selection = parseSelection(parseRuntime(process.argv.slice(2)).rest)
  const header = machine()
  console.log(`cacheado benchmark\n${header.join('\n')}`)
  if (!hasGc()) console.log('note: global.gc is not available; rounds run without a collection between them')

  const markdown: string[] = ['# cacheado benchmark results', '', ...header, '']
  const notes: string[] = []
  const all: Section[] = []
  for (const entry of REGISTRY) {
    if (selection.size !== 0 && !selection.has(entry.name)) continue
    if (entry.own === true && !selection.has(entry.name)) continue
    const file = `${HERE}${entry.file}`
    if (!existsSync(file)) {
      notes.push(`suite ${entry.name}: skipped, bench/${entry.file} is not written yet`)
      continue
    }
    if (entry.env !== undefined && !process.env[entry.env]) {
      notes.push(`suite ${entry.name}: skipped, set ${entry.env} to a server URL to run it`)
      continue
    }
    const loaded: unknown = await import(new URL(entry.file, import.meta.url).href)
    if (!isSuiteModule(loaded)) throw new Error(`bench/${entry.file} must export \`suite\` ({ name, run })`)
    const suite = loaded.suite
    console.log(`\n### suite ${suite.name}: ${suite.description}`)
    const started = performance.now()
    const sections = await suite.run({
      only: selection.get(entry.name) ?? [],
      onSection: (section) => console.log(renderText(section)),
    })
    const seconds = ((performance.now() - started) / 1000).toFixed(0)
    console.log(`\nsuite ${suite.name} took ${seconds} s`)
    if (entry.own === true) {
      if (selection.get(entry.name)!.length === 0)
        await writeOwnResults(entry.name, header, sections, seconds, entry.issue ?? 2)
      continue
    }
    markdown.push(`## Suite \`${suite.name}\`: ${suite.description}`, '', `Took ${seconds} s.`, '')
    for (const section of sections) markdown.push(renderMarkdown(section))
    all.push(...sections)
  }
  for (const note of notes) console.log(note)
  const targets = renderTargetsMarkdown(all)
  if (notes.length !== 0) markdown.push('## Skipped', '', ...notes.map((n) => `- ${n}`), '')
  markdown.splice(header.length + 3, 0, targets)

  const partial =
    [...selection.values()].some((s) => s.length !== 0) || (selection.size !== 0 && !selection.has('memory'))
  const name = `node${process.versions.node.split('.')[0]}.md`
  if (partial) {
    console.log(`\npartial run (scenarios selected): bench/results/${name} left as it was`)
  } else {
    const dir = `${HERE}results`
    mkdirSync(dir, { recursive: true })
    // Formatted with the project's Prettier settings, so that `npm run lint` stays clean after a run.
    const file = `${dir}/${name}`
    const config = (await resolveConfig(file)) ?? {}
    writeFileSync(file, await format(markdown.join('\n'), { ...config, parser: 'markdown' }))
    console.log(`\nwrote bench/results/${name}`)
  }
}

/** Writes the results of a suite of its own (see {@link SuiteEntry.own}) to its own file. */
async function writeOwnResults(
  name: string,
  header: readonly string[],
  sections: readonly Section[],
  seconds: string,
  issue: number,
): Promise<void> {
  const markdown = [
    `# cacheado benchmark results: suite \`${name}\``,
    '',
    ...header,
    '',
    `Took ${seconds} s.`,
    '',
  ]
  markdown.push(renderTargetsMarkdown(sections, issue))
  for (const section of sections) markdown.push(renderMarkdown(section))
  const dir = `${HERE}results`
  mkdirSync(dir, { recursive: true })
  const file = `${dir}/${name}-node${process.versions.node.split('.')[0]}.md`
  const config = (await resolveConfig(file)) ?? {}
  writeFileSync(file, await format(markdown.join('\n'), { ...config, parser: 'markdown' }))
  console.log(`\nwrote bench/results/${name}-node${process.versions.node.split('.')[0]}.md`)
}

/**
 * The runs themselves happen in children: on the chosen Node (see {@link parseRuntime}), with
 * `--expose-gc` (the harness collects garbage between rounds, the heap scenario measures after a
 * collection) and `--no-flush-bytecode` (the forced collections would otherwise make V8 discard the
 * compiled code of every library that sat out a few rounds, which no running application sees).
 */
function runChildren(): number {
  const { runtime } = parseRuntime(process.argv.slice(2))
  const node24 = fileURLToPath(new URL('../scripts/with-node24.sh', import.meta.url))
  for (const version of runtime === 'both' ? ['24', '20'] : [runtime]) {
    const flags = ['--expose-gc', '--no-flush-bytecode', '--import', 'tsx', fileURLToPath(import.meta.url)]
    const [command, args] =
      version === '24'
        ? ['bash', [node24, 'node', ...flags, ...process.argv.slice(2)]]
        : [process.execPath, [...flags, ...process.argv.slice(2)]]
    const result = spawnSync(command, args, {
      stdio: 'inherit',
      env: { ...process.env, CACHEADO_BENCH_CHILD: '1' },
    })
    if (result.status !== 0) return result.status ?? 1
  }
  return 0
}

if (process.env.CACHEADO_BENCH_CHILD === undefined) {
  process.exit(runChildren())
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
}
