// Reading the documentation as the tests check it: the ```ts blocks of a Markdown page, the
// `// #region`s of the examples they must come from, and the relative links between pages.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/** Lines without their leading indentation: an excerpt may sit deeper or shallower than its source. */
const unindent = (lines: readonly string[]) => lines.map((line) => line.trimStart())

/** Every `// #region <name>` ... `// #endregion` of the `.ts` files of `dir`, as unindented lines. */
export function exampleRegions(dir: string): Map<string, string[]> {
  const regions = new Map<string, string[]>()
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
    let current: string[] | undefined
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const start = /^\s*\/\/ #region (\S+)/.exec(line)
      if (start) {
        current = []
        regions.set(`${file}#${start[1]}`, current)
      } else if (/^\s*\/\/ #endregion/.test(line)) current = undefined
      else current?.push(line.trimStart())
    }
  }
  return regions
}

/** The bodies of the ```ts blocks of a Markdown text (fences may be indented, e.g. inside a list). */
export function tsBlocks(markdown: string): string[][] {
  const blocks: string[][] = []
  let current: string[] | undefined
  for (const line of markdown.split('\n')) {
    const fence = line.trim()
    if (current === undefined) {
      if (fence === '```ts' || fence === '```typescript') current = []
    } else if (fence === '```') {
      blocks.push(unindent(current))
      current = undefined
    } else current.push(line)
  }
  return blocks
}

/** The region holding `block` as consecutive lines, if any. */
export function regionHolding(block: readonly string[], regions: Map<string, string[]>): string | undefined {
  for (const [name, lines] of regions) {
    for (let at = 0; at + block.length <= lines.length; at++) {
      if (block.every((line, i) => lines[at + i] === line)) return name
    }
  }
  return undefined
}

/** The Markdown files under `dir`, recursively, as absolute paths (sorted, for stable messages). */
export function markdownFiles(dir: string): string[] {
  const found: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path))
    else if (name.endsWith('.md')) found.push(path)
  }
  return found.sort()
}

/** The text of a Markdown page outside its fenced code blocks (links in code are not links). */
function prose(markdown: string): string {
  let inFence = false
  return markdown
    .split('\n')
    .filter((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence
        return false
      }
      return !inFence
    })
    .join('\n')
    .replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '' : code)) // inline code spans
}

/** The targets of the inline links and images of a Markdown text, in order. */
export function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!)
}

/**
 * The anchors GitHub gives a page's headings: lower case, punctuation other than `-` and `_` dropped,
 * spaces turned into `-`, and `-1`, `-2`, ... added to repeated ones.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of prose(`${markdown}`).split('\n')) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

/** A broken relative link: the page it is on, the target as written, and what is wrong. */
export interface BrokenLink {
  readonly page: string
  readonly target: string
  readonly problem: string
}

/**
 * The relative links of `page` (an absolute path) whose file does not exist, or whose `#anchor` is no
 * heading of the Markdown page it points to. External links (`https:`, `mailto:`, ...) are not checked.
 */
export function brokenLinks(page: string, root: string): BrokenLink[] {
  const markdown = readFileSync(page, 'utf8')
  const broken: BrokenLink[] = []
  const name = relative(root, page)
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    const hash = target.indexOf('#')
    const file = hash === -1 ? target : target.slice(0, hash)
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
    const path = file === '' ? page : resolve(dirname(page), decodeURIComponent(file))
    if (!existsSync(path)) {
      broken.push({ page: name, target, problem: `no file ${relative(root, path)}` })
      continue
    }
    if (anchor === undefined || anchor === '') continue
    if (!path.endsWith('.md')) {
      broken.push({ page: name, target, problem: 'an anchor into a file that is not Markdown' })
    } else if (!headingAnchors(readFileSync(path, 'utf8')).has(anchor)) {
      broken.push({ page: name, target, problem: `no heading #${anchor} in ${relative(root, path)}` })
    }
  }
  return broken
}
