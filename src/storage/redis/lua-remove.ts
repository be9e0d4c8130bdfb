import { composeLua, luaFragment } from './compose.js'
import { PRELUDE } from './prelude.js'

/**
 * Lua sources of the Redis storage's removing scripts: delete, scope eviction, count, sweep, and the
 * Cluster's cache-wide bound steps. Key layout and ARGV header in `prelude.ts`.
 */

/**
 * Deletes one entry with its index and bound memberships. KEYS[1] data key; ARGV after the header:
 * member. Returns `{existed, stale, gone, creation}`: stale is 1 when only an expired entry's traces were
 * removed; gone is 1 when it was the tag's last entry (its marker went too: the client releases the
 * tag from the registry with the marker's creation id).
 */
export const DELETE_LUA = composeLua('DELETE', [
  ...PRELUDE,
  luaFragment(
    'delete',
    `
local member = ARGV[A + 1]
local segs, base = parse(member)
local root = base .. 'i:'
if #segs > 0 then root = root .. segs[1] end
local tracked = redis.call('ZSCORE', root, member)
local existed = remove(member)
-- a computation of this entry holds a fence (in any process): its write is refused (see fence.ts)
if redis.call('HEXISTS', base .. 'f', member) == 1 then bump(base .. 'f', member) end
local stale = 0
if existed == 0 and tracked then stale = 1 end
if tracked and redis.call('EXISTS', root) == 0 then return { existed, stale, 1, drop_tag(base) } end
return { existed, stale, 0, '' }
`,
    { uses: ['A', 'parse', 'remove', 'drop_tag', 'bump'] },
  ),
])

/**
 * Deletes several entries of one tag, as {@link DELETE_LUA} does each. KEYS[1] the tag's root index
 * (how a Cluster routes it); ARGV after the header: the members (all of that tag, none repeated).
 * Returns `{gone, creation, existed1, stale1, existed2, stale2, ...}`: gone is 1 when the tag's last
 * entry went (its marker went too; creation is the marker's creation id, for the registry's release).
 */
export const DELETE_MANY_LUA = composeLua('DELETE_MANY', [
  ...PRELUDE,
  luaFragment(
    'delete many',
    `
local out = { 0, '' }
local tracked_any = false
local base = nil
for i = A + 1, #ARGV do
  local member = ARGV[i]
  local segs, b = parse(member)
  base = b
  local root = b .. 'i:'
  if #segs > 0 then root = root .. segs[1] end
  local tracked = redis.call('ZSCORE', root, member)
  local existed = remove(member)
  if redis.call('HEXISTS', b .. 'f', member) == 1 then bump(b .. 'f', member) end
  local stale = 0
  if existed == 0 and tracked then stale = 1 end
  if tracked then tracked_any = true end
  out[#out + 1] = existed
  out[#out + 1] = stale
end
if tracked_any and redis.call('EXISTS', KEYS[1]) == 0 then
  out[1] = 1
  out[2] = drop_tag(base)
end
return out
`,
    { uses: ['A', 'parse', 'remove', 'drop_tag', 'bump'] },
  ),
])

/**
 * Evicts a scope, one batch at a time: up to `limit` members of its index. KEYS[1] the scope's index
 * key; ARGV after the header: the tag's key base (`P:{T}:`), '1' when the scope is a whole tag (its
 * marker and counter go too once it is empty), '1' to return the removed members, the batch limit, and
 * on the first batch only the scope's generation field (see `fence.ts`; '' on later batches),
 * raised before anything is removed so that every fenced write after this script is refused.
 * Returns `{removed, expired, more, gone, creation, members...}`; the caller repeats while `more` is 1,
 * so one huge scope never blocks Redis in a single script. `gone` is 1 when a whole tag was emptied
 * (its marker deleted; `creation` its creation id, for the registry's release).
 */
export const EVICT_SCOPE_LUA = composeLua('EVICT_SCOPE', [
  ...PRELUDE,
  luaFragment(
    'evict scope',
    `
local base = ARGV[A + 1]
local whole = ARGV[A + 2] == '1'
local want = ARGV[A + 3] == '1'
local field = ARGV[A + 5]
if field ~= '' then bump(base .. 'f', field) end
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[A + 4]) - 1)
local out = { 0, 0, 0, 0, '' }
local removed, stale = 0, 0
for _, m in ipairs(members) do
  if remove(m) == 1 then removed = removed + 1 else stale = stale + 1 end
  redis.call('ZREM', KEYS[1], m)
  if want then out[#out + 1] = m end
end
out[1] = removed
out[2] = stale
if redis.call('EXISTS', KEYS[1]) == 1 then
  out[3] = 1
elseif whole then
  out[4] = 1
  out[5] = drop_tag(base)
end
return out
`,
    { uses: ['A', 'bump', 'remove', 'drop_tag'] },
  ),
])

/**
 * Counts the live entries of one tag. KEYS[1] the tag's root index. Live means an expiry time not yet
 * passed on the server's clock (Redis keeps a key while now <= its PXAT time).
 */
export const COUNT_LUA = composeLua('COUNT', [
  luaFragment(
    'count',
    `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], string.format('%.0f', now), '+inf')
`,
  ),
])

/**
 * Purges up to 1000 expired entries of a tag or of the inline cache-wide bounds. KEYS[1] the tag's root
 * index, or `P:{@@}:x`; ARGV after the header: the tag's key base ('' for `P:{@@}:x`). Returns
 * `{purged, gone, creation}`: `gone` is 1 when the tag holds no entry any more (its marker and counter
 * are deleted; `creation` is the marker's creation id, for the registry's release).
 */
export const SWEEP_LUA = composeLua('SWEEP', [
  ...PRELUDE,
  luaFragment(
    'sweep',
    `
local purged = purge(KEYS[1], now_ms(), 1000)
local base = ARGV[A + 1]
if base ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then return { purged, 1, drop_tag(base) } end
return { purged, 0, '' }
`,
    { uses: ['A', 'purge', 'now_ms', 'drop_tag'] },
  ),
])

/**
 * Cluster only: the cache-wide bounds on their own slot. KEYS[1] `P:{@@}:x`; ARGV after the header:
 * n, n members to forget (they left the cache), then the written member ('' for none), its expiry
 * time ('' for none), '1' if it is new, its size in bytes. Forgets expired members, admits the written one, trims every
 * cache-wide bound and returns `{i1, victim1, ...}`: the caller deletes the victims on their slots.
 */
export const WIDE_ADMIT_LUA = composeLua('WIDE_ADMIT', [
  ...PRELUDE,
  luaFragment(
    'wide admit',
    `
local X = KEYS[1]
local function forget(m)
  redis.call('ZREM', X, m)
  local size = 0
  if HASBYTES then
    size = tonumber(redis.call('HGET', WB .. 's', m) or '0')
    redis.call('HDEL', WB .. 's', m)
  end
  for i = 1, NB do
    if B[i].per == '' then
      local g = WB .. 'b' .. B[i].id
      if redis.call('ZREM', g, m) == 1 and size > 0 and B[i].bytes > 0 then redis.call('DECRBY', g .. '#', size) end
    end
  end
end
local dead = redis.call('ZRANGEBYSCORE', X, '-inf', '(' .. num(now_ms()), 'LIMIT', 0, 100)
for _, m in ipairs(dead) do forget(m) end
local nf = tonumber(ARGV[A + 1])
for k = 1, nf do forget(ARGV[A + 1 + k]) end
local member = ARGV[A + 2 + nf]
local when = ARGV[A + 3 + nf]
local fresh = ARGV[A + 4 + nf] == '1'
local size = tonumber(ARGV[A + 5 + nf] or '0') or 0
local out = {}
if member ~= '' then
  if when == '' then redis.call('ZREM', X, member) else redis.call('ZADD', X, when, member) end
  local old = 0
  if HASBYTES then
    old = tonumber(redis.call('HGET', WB .. 's', member) or '0')
    redis.call('HSET', WB .. 's', member, size)
  end
  for i = 1, NB do
    if B[i].per == '' then
      admit(WB .. 'b' .. B[i].id, WB .. 'n', B[i], member, fresh, size, old, function(victim)
        forget(victim)
        out[#out + 1] = i
        out[#out + 1] = victim
      end)
    end
  end
end
return out
`,
    { uses: ['A', 'NB', 'B', 'WB', 'num', 'now_ms', 'admit', 'HASBYTES'] },
  ),
])

/** Cluster only: marks a member used in the cache-wide LRU bounds. KEYS[1] `P:{@@}:n`; ARGV: member. */
export const WIDE_TOUCH_LUA = composeLua('WIDE_TOUCH', [
  ...PRELUDE,
  luaFragment(
    'wide touch',
    `
local member = ARGV[A + 1]
for i = 1, NB do
  if B[i].per == '' and B[i].order == 'l' then
    redis.call('ZADD', WB .. 'b' .. B[i].id, 'XX', redis.call('INCR', KEYS[1]), member)
  end
end
return 1
`,
    { uses: ['A', 'NB', 'B', 'WB'] },
  ),
])
