/**
 * The Redis storage's Lua scripts are composed from named fragments (src/storage/redis/compose.ts):
 * every script holds its parts in order, and a composition that would silently drop a part (a return
 * before it, a name nobody defines) fails at module load. Running the scripts is the job of the Redis
 * tests; this file needs no server.
 */
import { describe, expect, it } from 'vitest'
import { composeLua, luaFragment } from '../../src/storage/redis/compose.js'
import type { ComposedLua } from '../../src/storage/redis/compose.js'
import {
  COUNT_LUA,
  DELETE_LUA,
  EVICT_SCOPE_LUA,
  SWEEP_LUA,
  WIDE_ADMIT_LUA,
  WIDE_TOUCH_LUA,
} from '../../src/storage/redis/lua-remove.js'
import {
  BROADCAST_FRAGMENT,
  GET_TTL_LUA,
  TOUCH_LUA,
  TOUCH_TTL_LUA,
  WRITE_BATCH_LUA,
  WRITE_BROADCAST_LUA,
  WRITE_LUA,
  WRITE_PUBLISH_LUA,
} from '../../src/storage/redis/lua.js'
import { FENCE_FRAGMENT } from '../../src/storage/redis/fence.js'
import {
  INVALIDATE_LABELS_BROADCAST_LUA,
  INVALIDATE_LABELS_LUA,
  INVALIDATE_LABELS_PUBLISH_LUA,
} from '../../src/storage/redis/lua-labels.js'
import { PRELUDE } from '../../src/storage/redis/prelude.js'
import { SCRIPTS } from '../../src/storage/redis/scripts.js'

const prelude = PRELUDE.map((f) => f.name)

const composed: Record<string, { script: ComposedLua; parts: readonly string[] }> = {
  WRITE: { script: WRITE_LUA, parts: [...prelude, 'write entry', 'return out'] },
  WRITE_PUBLISH: { script: WRITE_PUBLISH_LUA, parts: [...prelude, 'write entry', 'publish', 'return out'] },
  WRITE_BROADCAST: {
    script: WRITE_BROADCAST_LUA,
    parts: [...prelude, 'write entry', 'broadcast arguments', 'broadcast', 'return out'],
  },
  WRITE_BATCH: { script: WRITE_BATCH_LUA, parts: [...prelude, 'write batch'] },
  TOUCH: { script: TOUCH_LUA, parts: [...prelude, 'read value', 'mark used', 'return value'] },
  TOUCH_TTL: {
    script: TOUCH_TTL_LUA,
    parts: [...prelude, 'read value', 'mark used', 'return value and ttl'],
  },
  GET_TTL: { script: GET_TTL_LUA, parts: ['read value', 'return value and ttl'] },
  DELETE: { script: DELETE_LUA, parts: [...prelude, 'delete'] },
  EVICT_SCOPE: { script: EVICT_SCOPE_LUA, parts: [...prelude, 'evict scope'] },
  COUNT: { script: COUNT_LUA, parts: ['count'] },
  SWEEP: { script: SWEEP_LUA, parts: [...prelude, 'sweep'] },
  WIDE_ADMIT: { script: WIDE_ADMIT_LUA, parts: [...prelude, 'wide admit'] },
  WIDE_TOUCH: { script: WIDE_TOUCH_LUA, parts: [...prelude, 'wide touch'] },
  INVALIDATE_LABELS: {
    script: INVALIDATE_LABELS_LUA,
    parts: [...prelude, 'invalidate labels', 'return out'],
  },
  INVALIDATE_LABELS_PUBLISH: {
    script: INVALIDATE_LABELS_PUBLISH_LUA,
    parts: [...prelude, 'invalidate labels', 'publish when done', 'return out'],
  },
  INVALIDATE_LABELS_BROADCAST: {
    script: INVALIDATE_LABELS_BROADCAST_LUA,
    parts: [
      ...prelude,
      'invalidate labels',
      'broadcast arguments when done',
      'broadcast',
      'end broadcast',
      'return out',
    ],
  },
}

describe('Redis scripts composed from named fragments', () => {
  it('every composed script holds exactly its parts, in order, and is one the storage loads', () => {
    expect(prelude).toEqual(['header', 'tag helpers', 'fence helpers', 'entry helpers'])
    const loaded = new Set(SCRIPTS.map((s) => s.source))
    for (const [name, { script, parts }] of Object.entries(composed)) {
      expect(script.name).toBe(name)
      expect(script.parts).toEqual(parts)
      expect(loaded.has(script.source)).toBe(true)
    }
  })

  it('the fused writes send their message after the write and before the return', () => {
    const write = WRITE_LUA.source.slice(0, -'return out\n'.length)
    expect(WRITE_LUA.source.endsWith('out[3] = expired\nreturn out\n')).toBe(true)
    expect(WRITE_PUBLISH_LUA.source).toBe(
      `${write}redis.call('PUBLISH', ARGV[A + 8], ARGV[A + 9])\nreturn out\n`,
    )
    expect(WRITE_BROADCAST_LUA.source.startsWith(write)).toBe(true)
    expect(WRITE_BROADCAST_LUA.source.endsWith(`${BROADCAST_FRAGMENT.source}return out\n`)).toBe(true)
    expect(TOUCH_TTL_LUA.source).toBe(
      TOUCH_LUA.source.replace(/return v\n$/, "return {v, redis.call('PTTL', KEYS[1])}\n"),
    )
    for (const { script } of Object.values(composed)) {
      if (script.parts.includes('header')) expect(script.source).toContain(FENCE_FRAGMENT.source)
    }
  })

  it('refuses a fragment after a return, a script without one, and a name nobody defined', () => {
    const body = luaFragment('body', 'local x = 1\n', { defines: ['x'] })
    const done = luaFragment('done', 'return x\n', { uses: ['x'] })
    expect(composeLua('OK', [body, done]).source).toBe('local x = 1\nreturn x\n')
    expect(() =>
      composeLua('EARLY', [body, done, luaFragment('late', "redis.call('PUBLISH', 'c', 'm')\n")]),
    ).toThrow(/EARLY: fragment done ends with a return, so the fragments after it never run/)
    expect(() => composeLua('OPEN', [body])).toThrow(
      /OPEN: its last fragment body must end the script with a return/,
    )
    expect(() => composeLua('ORDER', [done, body])).toThrow(/ORDER: fragment done uses 'x'/)
    expect(() => composeLua('TWICE', [body, body, done])).toThrow(/fragment body twice/)
    expect(() => composeLua('NONE', [])).toThrow(/no fragments/)
    expect(() => luaFragment('stale', 'local y = 1\n', { defines: ['x'] })).toThrow(/declares 'x'/)
    expect(() => luaFragment('empty', '  \n')).toThrow(/empty source/)
    // a name is a whole word: 'x' is not mentioned by 'xx'
    expect(() => luaFragment('word', 'local xx = 1\n', { defines: ['x'] })).toThrow(/declares 'x'/)
  })
})
