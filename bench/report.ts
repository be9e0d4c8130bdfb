/**
 * The shapes the suites return and how they are printed: plain-text tables for the terminal and a
 * Markdown document for `bench/results/node<major>.md`.
 */
import type { Measurement } from './harness.js'
import { formatNs, formatRate, formatRatio, pairedRatio } from './harness.js'

/** A target from the issue, checked against a measured figure. The benchmark reports, never asserts. */
export interface TargetCheck {
  /** What is compared, e.g. `async scoped get-hit vs bentocache get`. */
  readonly name: string
  /** The target, e.g. `>= 10x`. */
  readonly target: string
  /** The measured figure, e.g. `14.2x`. */
  readonly measured: string
  readonly met: boolean
}

/** One table of results. */
export interface Section {
  readonly title: string
  /** Lines printed under the title: what is measured and how. */
  readonly notes?: readonly string[]
  readonly headers: readonly string[]
  readonly rows: readonly (readonly string[])[]
  readonly targets?: readonly TargetCheck[]
}

/** What the runner passes to a suite. */
export interface SuiteContext {
  /** Scenario names to run; empty: all of them. */
  readonly only: readonly string[]
  /** Called with each table as soon as it is measured (the runner prints it). */
  readonly onSection: (section: Section) => void
}

/**
 * A benchmark suite: `bench/memory.ts` now; `bench/redis.ts`, `bench/mongodb.ts`, `bench/tiered.ts`
 * later. A suite module exports it as `suite`.
 */
export interface Suite {
  readonly name: string
  /** One line: what the suite compares. */
  readonly description: string
  /** Names of its scenarios, for selection on the command line. */
  readonly scenarios: readonly string[]
  /** Runs the selected scenarios and returns their tables, in order. */
  run(context: SuiteContext): Promise<Section[]>
}

/** A named scenario of a suite: measures and returns its tables. */
export interface Scenario {
  readonly name: string
  readonly run: () => Promise<Section[]> | Section[]
}

/**
 * Runs the scenarios selected by `context.only` (all when empty), in order, handing each table to
 * `context.onSection` as soon as it is measured; `after` runs after each scenario (e.g. a GC).
 */
export async function runScenarios(
  scenarios: readonly Scenario[],
  context: SuiteContext,
  after?: () => void,
): Promise<Section[]> {
  const sections: Section[] = []
  for (const scenario of scenarios) {
    if (context.only.length !== 0 && !context.only.includes(scenario.name)) continue
    for (const section of await scenario.run()) {
      context.onSection(section)
      sections.push(section)
    }
    after?.()
  }
  return sections
}

/** What a suite module exports. */
export interface SuiteModule {
  readonly suite: Suite
}

/**
 * A table of measurements with a ratio column: `oursName`'s ops/s divided by each row's ops/s, as the
 * median of per-round ratios (`> 1`: ours is faster).
 */
export function ratioSection(
  title: string,
  measurements: readonly Measurement[],
  oursName: string,
  notes: readonly string[] = [],
): Section {
  const ours = measurements.find((m) => m.name === oursName)
  if (ours === undefined) throw new Error(`no measurement named ${oursName} in ${title}`)
  const extraKeys = [...new Set(measurements.flatMap((m) => Object.keys(m.extra)))]
  return {
    title,
    notes,
    headers: [
      'case',
      'ops/s (median)',
      'ns/op',
      'range (ops/s)',
      'ours / this',
      'ours / this (best rounds)',
      ...extraKeys,
    ],
    rows: measurements.map((m) => [
      m.name,
      formatRate(m.opsPerSec),
      formatNs(m.nsPerOp),
      `${formatRate(m.minOpsPerSec)} .. ${formatRate(m.maxOpsPerSec)}`,
      m === ours ? '(ours)' : formatRatio(pairedRatio(ours, m)),
      m === ours ? '(ours)' : formatRatio(ours.maxOpsPerSec / m.maxOpsPerSec),
      ...extraKeys.map((k) => m.extra[k] ?? ''),
    ]),
  }
}

/** How much faster measurement `a` is than `b` (median of per-round ratios). */
export function ratioOf(measurements: readonly Measurement[], a: string, b: string): number {
  const ma = measurements.find((m) => m.name === a)
  const mb = measurements.find((m) => m.name === b)
  if (ma === undefined || mb === undefined) throw new Error(`missing measurement ${a} or ${b}`)
  return pairedRatio(ma, mb)
}

/** The ratio of the fastest rounds of two named measurements (`a / b`): the least noisy estimate. */
export function bestRatioOf(measurements: readonly Measurement[], a: string, b: string): number {
  const ma = measurements.find((m) => m.name === a)
  const mb = measurements.find((m) => m.name === b)
  if (ma === undefined || mb === undefined) throw new Error(`missing measurement ${a} or ${b}`)
  return ma.maxOpsPerSec / mb.maxOpsPerSec
}

/** A target check on a ratio that must be at least `min`. */
export function atLeast(name: string, ratio: number, min: number): TargetCheck {
  return { name, target: `>= ${min}x`, measured: formatRatio(ratio), met: ratio >= min }
}

/**
 * A target check on the ratio of two measurements (`a / b`) that must be at least `min`. Judged on the
 * median of per-round ratios; the ratio of the fastest rounds is shown beside it.
 */
export function atLeastPaired(
  name: string,
  measurements: readonly Measurement[],
  a: string,
  b: string,
  min: number,
): TargetCheck {
  const ratio = ratioOf(measurements, a, b)
  const best = bestRatioOf(measurements, a, b)
  return {
    name,
    target: `>= ${min}x`,
    measured: `${formatRatio(ratio)} (best rounds ${formatRatio(best)})`,
    met: ratio >= min,
  }
}

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width)
}

/** Renders a section as an aligned plain-text table. */
export function renderText(section: Section): string {
  const widths = section.headers.map((h, i) =>
    Math.max(h.length, ...section.rows.map((r) => (r[i] ?? '').length)),
  )
  const line = (cells: readonly string[]) => cells.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ')
  const out = [`\n== ${section.title} ==`]
  for (const note of section.notes ?? []) out.push(`   ${note}`)
  out.push(line(section.headers), widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of section.rows) out.push(line(row))
  for (const t of section.targets ?? []) {
    out.push(`   target: ${t.name} ${t.target}: measured ${t.measured} -> ${t.met ? 'MET' : 'MISSED'}`)
  }
  return out.join('\n')
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

/** Renders a section as Markdown. */
export function renderMarkdown(section: Section): string {
  const out = [`### ${section.title}`, '']
  for (const note of section.notes ?? []) out.push(`${note}  `)
  if ((section.notes ?? []).length !== 0) out.push('')
  out.push(`| ${section.headers.map(escapeCell).join(' | ')} |`)
  out.push(`| ${section.headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`)
  for (const row of section.rows) out.push(`| ${row.map(escapeCell).join(' | ')} |`)
  out.push('')
  return out.join('\n')
}

/** Renders every target of every section as one Markdown table. */
export function renderTargetsMarkdown(sections: readonly Section[], issue = 2): string {
  const targets = sections.flatMap((s) => s.targets ?? [])
  if (targets.length === 0) return ''
  const out = [
    `### Targets (issue ${issue})`,
    '',
    '| target | wanted | measured | status |',
    '| --- | ---: | ---: | --- |',
  ]
  for (const t of targets)
    out.push(`| ${escapeCell(t.name)} | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`)
  out.push('')
  return out.join('\n')
}
