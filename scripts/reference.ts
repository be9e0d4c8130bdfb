/**
 * Generates docs/reference.md, the API reference, from the doc comments of what each package entry
 * exports: classes (constructor, public members), functions, interfaces and object types (a table of
 * their properties), other types and constants. The README explains; this page lists every option and
 * member with the words of its doc comment, so the two cannot drift apart.
 *
 *   node --import tsx scripts/reference.ts          # rewrites docs/reference.md
 *   node --import tsx scripts/reference.ts --check  # fails when docs/reference.md is not current
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { format, resolveConfig } from 'prettier'
import ts from 'typescript'

const root = fileURLToPath(new URL('..', import.meta.url))
const output = `${root}docs/reference.md`

/** Package entry -> its source module. */
const ENTRIES: readonly (readonly [string, string])[] = [
  ['cacheado', 'src/index.ts'],
  ['cacheado/redis', 'src/redis.ts'],
  ['cacheado/mongodb', 'src/mongodb.ts'],
  ['cacheado/prometheus', 'src/prometheus.ts'],
  ['cacheado/otel', 'src/otel.ts'],
  ['cacheado/storage', 'src/storage/index.ts'],
  ['cacheado/testing', 'src/testing/index.ts'],
  ['cacheado/express', 'src/express.ts'],
  ['cacheado/fastify', 'src/fastify.ts'],
  ['cacheado/nestjs', 'src/nestjs.ts'],
  ['cacheado/keyv', 'src/keyv.ts'],
]

const program = ts.createProgram(
  ENTRIES.map(([, file]) => `${root}${file}`),
  {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  },
)
const checker = program.getTypeChecker()

/** One line of doc text: the comment's first paragraph, with line breaks folded. */
function docOf(symbol: ts.Symbol): string {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim()
  return text.split(/\n\s*\n/)[0]!.replace(/\s*\n\s*/g, ' ')
}

/** Table cells may not contain a bare `|` or a line break. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
const code = (text: string) => (text === '' ? '' : `\`${cell(text).replace(/`/g, "'")}\``)

function typeText(declaration: ts.Declaration | undefined, symbol: ts.Symbol): string {
  const node = declaration as (ts.Declaration & { type?: ts.TypeNode }) | undefined
  if (node?.type !== undefined) return node.type.getText().replace(/\s+/g, ' ')
  if (declaration !== undefined) {
    return checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, declaration)).replace(/\s+/g, ' ')
  }
  return ''
}

/** A table of the properties (or public members) of an interface, object type or class. */
function membersTable(members: readonly ts.Symbol[]): string[] {
  const rows = members
    .filter((m) => !m.getName().startsWith('#') && !m.getName().startsWith('__'))
    // Members inherited from the platform (Error's message and stack, ...) are not ours to document.
    .filter((m) =>
      (m.valueDeclaration ?? m.declarations?.[0])?.getSourceFile().fileName.startsWith(`${root}src/`),
    )
    .filter((m) => {
      const flags = m.valueDeclaration ? ts.getCombinedModifierFlags(m.valueDeclaration) : 0
      return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0
    })
    .map((m) => {
      const declaration = m.valueDeclaration ?? m.declarations?.[0]
      const optional = (m.flags & ts.SymbolFlags.Optional) !== 0 ? '?' : ''
      let type = typeText(declaration, m)
      if (
        declaration !== undefined &&
        (ts.isMethodDeclaration(declaration) || ts.isMethodSignature(declaration))
      ) {
        type = declaration
          .getText()
          .replace(/\{[\s\S]*$/, '')
          .replace(/^async /, '')
          .replace(/\s+/g, ' ')
          .trim()
      }
      return `| ${code(m.getName() + optional)} | ${code(type)} | ${cell(docOf(m))} |`
    })
  if (rows.length === 0) return []
  return ['| name | type | description |', '| --- | --- | --- |', ...rows, '']
}

function describeExport(symbol: ts.Symbol): string[] {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  const declaration = target.declarations?.[0]
  if (declaration === undefined) return []
  const name = symbol.getName()
  const doc = docOf(target)
  const lines: string[] = []
  if (ts.isClassDeclaration(declaration)) {
    lines.push(`### class \`${name}\``, '', doc, '')
    const ctor = declaration.members.find(ts.isConstructorDeclaration)
    if (ctor !== undefined) {
      const params = ctor.parameters.map((p) => p.getText().replace(/\s+/g, ' ')).join(', ')
      lines.push(`\`new ${name}(${params})\``, '')
    }
    const type = checker.getDeclaredTypeOfSymbol(target)
    lines.push(...membersTable(checker.getPropertiesOfType(type)))
  } else if (
    ts.isInterfaceDeclaration(declaration) ||
    (ts.isTypeAliasDeclaration(declaration) && ts.isTypeLiteralNode(declaration.type))
  ) {
    lines.push(
      `### ${ts.isInterfaceDeclaration(declaration) ? 'interface' : 'type'} \`${name}\``,
      '',
      doc,
      '',
    )
    lines.push(...membersTable(checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))))
  } else if (ts.isTypeAliasDeclaration(declaration)) {
    lines.push(
      `### type \`${name}\``,
      '',
      doc,
      '',
      '```ts',
      declaration.getText().replace(/^export /, ''),
      '```',
      '',
    )
  } else if (ts.isFunctionDeclaration(declaration)) {
    const signature = declaration
      .getText()
      .replace(/\{[\s\S]*$/, '')
      .replace(/^export /, '')
      .trim()
    lines.push(`### function \`${name}\``, '', doc, '', '```ts', signature, '```', '')
  } else if (ts.isVariableDeclaration(declaration)) {
    lines.push(`### const \`${name}\``, '', doc, '')
  } else {
    return []
  }
  return lines
}

async function render(): Promise<string> {
  const lines = [
    '# API reference',
    '',
    '<!-- Generated by scripts/reference.ts from the doc comments; do not edit. Run `npm run docs`. -->',
    '',
    'Every option and public member, with the first paragraph of its doc comment. The README explains how the',
    'pieces work together; the source has the full comments.',
    '',
  ]
  for (const [entry, file] of ENTRIES) {
    const source = program.getSourceFile(`${root}${file}`)
    const moduleSymbol = source && checker.getSymbolAtLocation(source)
    if (moduleSymbol === undefined) throw new Error(`cannot read the exports of ${file}`)
    const exports = checker
      .getExportsOfModule(moduleSymbol)
      .sort((a, b) => a.getName().localeCompare(b.getName()))
    lines.push(`## \`${entry}\``, '')
    for (const symbol of exports) lines.push(...describeExport(symbol))
  }
  const config = (await resolveConfig(output)) ?? {}
  return format(lines.join('\n'), { ...config, parser: 'markdown' })
}

const text = await render()
if (process.argv.includes('--check')) {
  let current = ''
  try {
    current = readFileSync(output, 'utf8')
  } catch {
    // missing: not current
  }
  if (current !== text) {
    console.error('docs/reference.md is not current: run `npm run docs` and commit it')
    process.exit(1)
  }
  console.log('docs/reference.md is current')
} else {
  writeFileSync(output, text)
  console.log(`wrote docs/reference.md (${text.split('\n').length} lines)`)
}
