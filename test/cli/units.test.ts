import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatBytes,
  formatDuration,
  formatPath,
  formatTtl,
  ProgressBar,
  table,
} from '../../src/cli/output.js'
import type { CliIO } from '../../src/cli/output.js'
import { parseScopeSpec, resolveScopeArgs, scopeConfigFrom } from '../../src/cli/scope-arg.js'
import { groupOf, UsageTally } from '../../src/storage/admin.js'
import {
  decodeEntryRef,
  decodeScopePath,
  encodeEntryRef,
  encodeScopePath,
} from '../../src/storage/key-encoding.js'
import { nastyString } from '../storage/conformance.js'

describe('CLI output', () => {
  it('formats sizes, TTLs and tables', () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 ** 3].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '5.0 GiB',
    ])
    expect([null, 950, 42_000, 303_000, 7_500_000, 273_600_000].map(formatTtl)).toEqual([
      'none',
      '950ms',
      '42s',
      '5m03s',
      '2h05m',
      '3d04h',
    ])
    expect([85, 2400].map(formatDuration)).toEqual(['85 ms', '2.4 s'])
    expect(
      table(
        ['A', 'NUM'],
        [
          ['xyz', '1'],
          ['q', '100'],
        ],
        'lr',
      ),
    ).toBe('  A    NUM\n  xyz    1\n  q    100\n')
  })

  it('prints scope paths that resolve back to the same path, whatever the ids contain', () => {
    const config = scopeConfigFrom(undefined)
    fc.assert(
      fc.property(
        nastyString.filter((s) => s !== ''),
        nastyString.filter((s) => s !== ''),
        (orgId, userId) => {
          const path = [
            { level: 'organization', id: orgId },
            { level: 'user', id: userId },
          ]
          expect(resolveScopeArgs(config, [formatPath(path)], undefined)).toEqual(path)
          expect(resolveScopeArgs(config, ['user', `orgId=${orgId}`, `userId=${userId}`], undefined)).toEqual(
            path,
          )
        },
      ),
      { numRuns: 300 },
    )
    expect(formatPath([])).toBe('global')
  })

  it('draws a progress bar only on a terminal', () => {
    const written: string[] = []
    const io = (isTTY: boolean): CliIO => ({
      stdout: { write: () => true },
      stderr: { write: (text: string) => written.push(text), isTTY },
      stdin: process.stdin,
      env: {},
    })
    const quiet = new ProgressBar(io(false), 10, 'evicting')
    quiet.update(5)
    quiet.done()
    expect(written).toEqual([])
    const bar = new ProgressBar(io(true), 10, 'evicting')
    bar.update(5)
    bar.update(6) // within 100 ms of the last drawing: skipped
    bar.update(12) // more than the total (entries written meanwhile): clamped, always drawn
    bar.done()
    expect(written).toEqual([
      '\revicting [###############...............] 50% 5/10',
      '\revicting [##############################] 100% 12/10',
      '\r\x1b[2K',
    ])
  })
})

describe('--scopes', () => {
  it('describes several trees, sharing their first levels', () => {
    const config = parseScopeSpec(
      'organization:orgId > user:userId, organization:orgId>team:teamId, region:regionId',
    )
    expect(config.names).toEqual(['global', 'organization', 'user', 'team', 'region'])
    expect(config.level('team').path.map((l) => l.param)).toEqual(['orgId', 'teamId'])
    expect(resolveScopeArgs(config, ['team', 'orgId=o', 'teamId=t'], undefined)).toEqual([
      { level: 'organization', id: 'o' },
      { level: 'team', id: 't' },
    ])
  })
})

describe('admin helpers', () => {
  it('decodes what the key encoding produces', () => {
    const segment = fc.record({ level: nastyString.filter((s) => s !== ''), id: nastyString })
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 3 }), nastyString, (scope, key) => {
        expect(decodeEntryRef(encodeEntryRef({ scope, key }))).toEqual({ scope, key })
        expect(decodeScopePath(encodeScopePath(scope))).toEqual(scope)
      }),
      { numRuns: 500 },
    )
  })

  it('groups entries by their first levels and ranks the largest', () => {
    expect(groupOf('a=1/b=2/|k/ey', 1)).toBe('a=1/')
    expect(groupOf('a=1/b=2/|k/ey', 5)).toBe('a=1/b=2/')
    expect(groupOf('|k/ey', 1)).toBe('')
    const tally = new UsageTally()
    tally.add('a=1/', 10)
    tally.add('b=2/', 5, 2)
    tally.add('a=1/', 10)
    tally.add('c=3/', 7, 2)
    expect(tally.report(2, true)).toEqual({
      entries: 6,
      bytes: 32,
      scopes: 3,
      largest: [
        { path: [{ level: 'a', id: '1' }], entries: 2, bytes: 20 },
        { path: [{ level: 'c', id: '3' }], entries: 2, bytes: 7 },
      ],
    })
  })
})
