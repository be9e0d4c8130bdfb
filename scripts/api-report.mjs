#!/usr/bin/env node
// The public API report: one file per package entry under etc/api/, made by @microsoft/api-extractor
// from the built declarations (run `npm run build` first).
//
//   node scripts/api-report.mjs           # CI: fails when the public surface differs from etc/api/
//   node scripts/api-report.mjs --update  # rewrites etc/api/ after an intended change (commit it)
//
// Every change to what users can import then shows in review as a diff of etc/api/*.api.md.
/* global console */
import { mkdtempSync, rmSync } from 'node:fs'
import process from 'node:process'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'

const root = resolve(import.meta.dirname, '..')
const update = process.argv.includes('--update')
const entries = [
  'index',
  'redis',
  'mongodb',
  'prometheus',
  'otel',
  'storage',
  'testing',
  'express',
  'fastify',
  'nestjs',
  'keyv',
]
const scratch = mkdtempSync(join(tmpdir(), 'cacheado-api-'))
let failed = false
try {
  for (const entry of entries) {
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: root,
        mainEntryPointFilePath: join(root, 'dist', `${entry}.d.ts`),
        compiler: { tsconfigFilePath: join(root, 'tsconfig.json') },
        apiReport: {
          enabled: true,
          reportFileName: `${entry}.api.md`,
          reportFolder: join(root, 'etc', 'api'),
          reportTempFolder: scratch,
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          // The report is what we review; doc-comment style and release tags are not enforced here.
          extractorMessageReporting: {
            default: { logLevel: 'none' },
            'ae-missing-release-tag': { logLevel: 'none' },
            'ae-forgotten-export': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
          compilerMessageReporting: { default: { logLevel: 'warning' } },
        },
      },
      configObjectFullPath: join(root, 'api-extractor.json'),
      packageJsonFullPath: join(root, 'package.json'),
    })
    const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false })
    if (result.apiReportChanged && !update) {
      console.error(
        `api-report: the public API of '${entry}' changed; run \`npm run build && npm run api:update\` and commit etc/api/${entry}.api.md`,
      )
      failed = true
    } else if (!result.succeeded) {
      console.error(`api-report: api-extractor failed for '${entry}'`)
      failed = true
    } else {
      console.log(`api-report: ${entry} ${result.apiReportChanged ? 'updated' : 'unchanged'}`)
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
