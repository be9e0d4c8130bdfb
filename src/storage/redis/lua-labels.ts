import { composeLua, luaFragment } from './compose.js'
import { PRELUDE } from './prelude.js'

/**
 * Removes the entries of one tenant (hash tag) carrying any of some labels (user tags), one batch at a
 * time. KEYS[1] the first label's ZSET (`P:{T}:t:<label>`, for routing: every key touched is in the
 * tenant's slot). ARGV after the header: the tenant's key base (`P:{T}:`), its root index, the encoded
 * scope path the members must start with ('' for the whole tenant), the generation field to raise
 * before anything is removed ('' on later batches, see `fence.ts`), '1' to return the removed members,
 * the batch budget (members examined), the label to resume at (1-based) and the cursor inside it
 * (members already examined and kept), then the labels.
 * Returns `{removed, expired, more, gone, creation, label, cursor, members...}`: the caller repeats with
 * `label` and `cursor` while `more` is 1; `gone` is 1 when the tenant was emptied (its marker deleted;
 * `creation` its creation id, for the registry's release).
 */
export const INVALIDATE_LABELS_LUA = composeLua('INVALIDATE_LABELS', [
  ...PRELUDE,
  luaFragment(
    'invalidate labels',
    `
local base = ARGV[A + 1]
local root = ARGV[A + 2]
local prefix = ARGV[A + 3]
local field = ARGV[A + 4]
local want = ARGV[A + 5] == '1'
local budget = tonumber(ARGV[A + 6])
local li = tonumber(ARGV[A + 7])
local cursor = tonumber(ARGV[A + 8])
local first = A + 8
local nl = #ARGV - first
if field ~= '' then bump(base .. 'f', field) end
local out = { 0, 0, 0, 0, '', 0, 0 }
local removed, stale = 0, 0
while li <= nl and budget > 0 do
  local zkey = base .. 't:' .. ARGV[first + li]
  local members = redis.call('ZRANGE', zkey, cursor, cursor + budget - 1)
  budget = budget - #members
  local taken = 0
  for _, m in ipairs(members) do
    if prefix == '' or string.sub(m, 1, #prefix) == prefix then
      if remove(m) == 1 then removed = removed + 1 else stale = stale + 1 end
      redis.call('ZREM', zkey, m)
      taken = taken + 1
      if want then out[#out + 1] = m end
    end
  end
  cursor = cursor + #members - taken
  if redis.call('ZCARD', zkey) <= cursor then
    li = li + 1
    cursor = 0
  end
end
out[1] = removed
out[2] = stale
if li <= nl then out[3] = 1 end
out[6] = li
out[7] = cursor
if removed + stale > 0 and redis.call('EXISTS', root) == 0 then
  out[4] = 1
  out[5] = drop_tag(base)
end
return out
`,
    { uses: ['A', 'bump', 'remove', 'drop_tag'] },
  ),
])
