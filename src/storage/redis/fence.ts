import { InvalidArgumentError } from '../../errors.js'
import type { WriteFence } from '../contract.js'
import { luaFragment } from './compose.js'

/**
 * Write fences of the Redis storage (see `StorageProvider.fence` / `setFenced`).
 *
 * Every tag (tenant) has a hash `P:{T}:f` of eviction generations: field = encoded scope path of an
 * evicted scope (`level=id/...`, `@` for the global tag's root), value = generation. A scope eviction
 * raises its scope's generation in the same script as its first batch, before any entry is deleted,
 * so a fenced write that runs after that script is refused and one that ran before is deleted by the
 * eviction. `clear()` also raises the cache-wide generation `P:{P:tags}:g` (the registry's slot) before
 * it reads the registry, and every tag it evicts raises its root field.
 *
 * An entry being computed has a generation of its own (field = its member), created by the fence and
 * raised by a delete of the entry (`DELETE_LUA`, `DELETE_MANY_LUA`), so `evict(key)` in any process
 * refuses a write fenced before it; the write that stores removes it (see {@link FENCE_READ_LUA}).
 *
 * A fence holds: the generations of the ref's scope, of each of its ancestors and of the entry, the creation id of
 * the tag's marker (`''` when the tag was not registered), the cache-wide generation and the server time
 * (ms) it was taken. A fenced write, in one script on the tag's slot, stores only if every generation
 * are unchanged and the fence is younger than {@link FENCE_RETENTION_MS}, and the marker's creation id is
 * unchanged or no `clear()` started since the fence (the cache-wide generation is the fence's);
 * when the tag is not registered, it registers it first with a script on the registry's slot that
 * refuses if the cache-wide generation changed (so a `clear()` that missed the tag because it was not
 * registered yet refuses the write too).
 *
 * No ABA: a generation is `max(previous + 1, server time in µs)`, so it never takes a value again even
 * after its key expired; the hashes carry a TTL of {@link FENCE_RETENTION_MS}, refreshed by every
 * eviction (the one trace a tenant leaves once its entries are gone, and it expires on its own).
 */

/** How long eviction generations are kept, and the age past which a fence is refused: 10 minutes. */
export const FENCE_RETENTION_MS = 600_000

/**
 * Lua helpers (they need `mark_parts` from the prelude of `prelude.ts`).
 * - `bump(fkey, field)`: raises one generation (see above) and refreshes the hash's retention TTL.
 * - `fence_holds(fence, segs, base, made, now)`: whether a packed fence (see {@link makeFence}) still
 *   holds for an entry of scope segments `segs` in the tag of key base `base`, whose marker's creation
 *   id is `made` (nil: no marker): 1 it holds, 0 it does not (too old, or an eviction raised a
 *   generation), 2 the generations hold but the tag's marker is not the one the fence saw (the tag was
 *   registered, or emptied and registered again, since). On 2 the client asks whether a `clear()`
 *   started since the fence (the cache-wide generation, on the registry's slot) and, if none did, runs
 *   the write again with the current creation id (see `RedisWrites.write`): a tenant's concurrent first
 *   writes each took their fence before the first of them registered the tag, and must all store.
 */
export const FENCE_FRAGMENT = luaFragment(
  'fence helpers',
  `
local RETENTION = ${FENCE_RETENTION_MS}

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function bump(fkey, field)
  local old = tonumber(redis.call('HGET', fkey, field) or '0') or 0
  local g = now_us()
  if g <= old then g = old + 1 end
  redis.call('HSET', fkey, field, string.format('%.0f', g))
  redis.call('PEXPIRE', fkey, RETENTION)
end

local function scope_fields(segs)
  if #segs == 0 then return { '@' } end
  local fields, path = {}, ''
  for j = 1, #segs do
    path = path .. segs[j]
    fields[j] = path
  end
  return fields
end

local function fence_holds(fence, segs, base, made, now, member)
  local parts, from = {}, 1
  while true do
    local comma = string.find(fence, ',', from, true)
    if not comma then
      parts[#parts + 1] = string.sub(fence, from)
      break
    end
    parts[#parts + 1] = string.sub(fence, from, comma - 1)
    from = comma + 1
  end
  local t = tonumber(parts[1])
  if not t or now - t > RETENTION or t - now > RETENTION then return 0 end
  local fields = scope_fields(segs)
  if #parts ~= #fields + 3 then return 0 end
  fields[#fields + 1] = member
  local values = redis.call('HMGET', base .. 'f', unpack(fields))
  for j = 1, #fields do
    if (values[j] or '') ~= parts[j + 2] then return 0 end
  end
  if (made or '') ~= parts[2] then return 2 end
  return 1
end
`,
  { defines: ['RETENTION', 'now_us', 'bump', 'scope_fields', 'fence_holds'] },
)

/**
 * Takes a fence. KEYS[1] the tag's generation hash, KEYS[2] the tag's marker, KEYS[3] (standalone
 * only) the cache-wide generation; ARGV the fields of the ref's scope and its ancestors, outermost
 * first, then the entry's member. Returns `{time ms, creation id, generation..., entry generation,
 * [cache-wide generation]}` (`''` for none).
 *
 * The entry generation (field = the member, which no scope field equals: those have no `|`) is created
 * here when missing, so that a delete of the entry (`DELETE_LUA`, which raises it only when it exists)
 * refuses this fence's write in any process; a fenced write that stores removes it (a concurrent
 * fence of the same entry is then refused: the entry was just stored), so the hash holds one field
 * per entry being computed, and its retention TTL is refreshed here.
 */
export const FENCE_READ_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('GET', KEYS[2])
local c = ''
if m then
  c = string.match(m, '^([%dp]*):') or '0'
end
local out = { string.format('%.0f', now), c }
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
for j = 1, #ARGV - 1 do out[#out + 1] = values[j] or '' end
local g = values[#ARGV]
if not g then
  g = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('HSET', KEYS[1], ARGV[#ARGV], g)
end
redis.call('PEXPIRE', KEYS[1], ${FENCE_RETENTION_MS})
out[#out + 1] = g
if KEYS[3] then out[#out + 1] = redis.call('GET', KEYS[3]) or '' end
return out
`

/** A fence of a {@link RedisStorage}: which entry it is for and what its write script compares. */
export class RedisWriteFence implements WriteFence {
  /** The member (encoded ref) it was taken for. */
  readonly member: string
  /** `time,creation,generation...` as the write script reads it. */
  readonly packed: string
  /** The cache-wide generation when it was taken (`''`: none). */
  readonly global: string

  constructor(member: string, packed: string, global: string) {
    this.member = member
    this.packed = packed
    this.global = global
    Object.freeze(this)
  }
}

/**
 * Builds a fence from the reply of {@link FENCE_READ_LUA} (`fields` generations after time and creation
 * id, the entry's included) and the cache-wide generation, if read apart (Cluster).
 */
export function makeFence(
  member: string,
  reply: readonly unknown[],
  fields: number,
  global?: string,
): RedisWriteFence {
  const parts = reply.slice(0, fields + 2).map((part) => String(part))
  return new RedisWriteFence(member, parts.join(','), global ?? String(reply[fields + 2] ?? ''))
}

/** Checks that `fence` is one of ours, for `member`: the fence, or `undefined` for another entry's. */
export function checkFence(fence: unknown, member: string): RedisWriteFence | undefined {
  if (!(fence instanceof RedisWriteFence)) {
    throw new InvalidArgumentError(
      'setFenced needs a fence returned by fence() of the same RedisStorage (got another object)',
    )
  }
  return fence.member === member ? fence : undefined
}

/**
 * The generation fields of an entry's scope and of its ancestors, from its member (`a=1/b=2/|key`):
 * `['a=1/', 'a=1/b=2/']`, or `['@']` for the global scope.
 */
export function scopeFields(member: string): string[] {
  const bar = member.indexOf('|')
  const fields: string[] = []
  for (let end = member.indexOf('/'); end !== -1 && end < bar; end = member.indexOf('/', end + 1)) {
    fields.push(member.slice(0, end + 1))
  }
  return fields.length === 0 ? ['@'] : fields
}
