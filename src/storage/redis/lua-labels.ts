import { composeLua, luaFragment } from './compose.js'
import { BROADCAST_FRAGMENT } from './lua.js'
import { PRELUDE } from './prelude.js'

/**
 * Removes the entries of one tenant (hash tag) carrying any of some labels (user tags), one batch at a
 * time. KEYS[1] the first label's ZSET (`P:{T}:t:<label>`, for routing: every key touched is in the
 * tenant's slot). ARGV after the header: the tenant's key base (`P:{T}:`), its root index, the encoded
 * scope path the members must start with ('' for the whole tenant), the generation field to raise
 * before anything is removed ('' on later batches, see `fence.ts`), '1' to return the removed members,
 * the batch budget (members examined), the label to resume at (1-based) and the cursor inside it
 * (members already examined and kept), the number of labels, the labels, then (the publishing
 * variants below) the message's arguments, from ARGV[NOTE + 1].
 * Returns `{removed, expired, more, gone, creation, label, cursor, members...}`: the caller repeats with
 * `label` and `cursor` while `more` is 1; `gone` is 1 when the tenant was emptied (its marker deleted;
 * `creation` its creation id, for the registry's release).
 */
const INVALIDATE = luaFragment(
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
local nl = tonumber(ARGV[A + 9])
local first = A + 9
local NOTE = first + nl

-- Runs cmd (ZREM with its key, or DEL without one) over list in chunks (Lua's unpack has a limit);
-- answers the summed replies.
local function chunked(cmd, key, list)
  local total = 0
  for i = 1, #list, 500 do
    local j = math.min(i + 499, #list)
    if key then
      total = total + redis.call(cmd, key, unpack(list, i, j))
    else
      total = total + redis.call(cmd, unpack(list, i, j))
    end
  end
  return total
end

-- Removes members as remove() of the prelude does, member by member, but with one command per key
-- touched instead of one per member and key (100 entries: ~110 commands instead of ~700, which was
-- most of the script's time); zkey, the label ZSET being walked, loses them too. Answers how many
-- had live data.
local function remove_many(members, zkey)
  if #members == 0 then return 0 end
  local lists, order, data, sets = {}, {}, {}, {}
  local function add(key, m)
    local list = lists[key]
    if list == nil then
      list = {}
      lists[key] = list
      order[#order + 1] = key
    end
    list[#list + 1] = m
  end
  for _, m in ipairs(members) do
    local segs, b = parse(m)
    local g = b .. 'g:' .. m
    local labels = redis.call('SMEMBERS', g)
    if #labels > 0 then
      for _, l in ipairs(labels) do
        local lk = b .. 't:' .. l
        if lk ~= zkey then add(lk, m) end
      end
      sets[#sets + 1] = g
    end
    data[#data + 1] = b .. 'd:' .. m
    if #segs == 0 then add(b .. 'i:', m) end
    local path = ''
    for j = 1, #segs do
      path = path .. segs[j]
      add(b .. 'i:' .. path, m)
    end
    for i = 1, NB do
      local bg = group(i, segs, b)
      if bg then add(bg, m) end
    end
    if WIDEX then add(WB .. 'x', m) end
  end
  lists[zkey] = members
  order[#order + 1] = zkey
  for _, key in ipairs(order) do chunked('ZREM', key, lists[key]) end
  if #sets > 0 then chunked('DEL', nil, sets) end
  return chunked('DEL', nil, data)
end
if field ~= '' then bump(base .. 'f', field) end
local out = { 0, 0, 0, 0, '', 0, 0 }
local removed, stale = 0, 0
while li <= nl and budget > 0 do
  local zkey = base .. 't:' .. ARGV[first + li]
  local members = redis.call('ZRANGE', zkey, cursor, cursor + budget - 1)
  budget = budget - #members
  local taken = {}
  for _, m in ipairs(members) do
    if prefix == '' or string.sub(m, 1, #prefix) == prefix then
      taken[#taken + 1] = m
      if want then out[#out + 1] = m end
    end
  end
  local live = remove_many(taken, zkey)
  removed = removed + live
  stale = stale + #taken - live
  cursor = cursor + #members - #taken
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
`,
  {
    defines: ['out', 'NOTE'],
    uses: ['A', 'NB', 'WB', 'WIDEX', 'bump', 'parse', 'group', 'drop_tag'],
  },
)

const RETURN_OUT = luaFragment('return out', 'return out\n', { uses: ['out'] })

/** Removes the entries of one tenant carrying any of some labels, one batch at a time (see above). */
export const INVALIDATE_LABELS_LUA = composeLua('INVALIDATE_LABELS', [...PRELUDE, INVALIDATE, RETURN_OUT])

/**
 * {@link INVALIDATE_LABELS_LUA}, then, after its last batch (`more` 0), the message ARGV[NOTE + 2] on the
 * channel ARGV[NOTE + 1] (Redis Cluster: one shared channel), so that the removal and its bus message
 * are one command.
 */
export const INVALIDATE_LABELS_PUBLISH_LUA = composeLua('INVALIDATE_LABELS_PUBLISH', [
  ...PRELUDE,
  INVALIDATE,
  luaFragment(
    'publish when done',
    "if out[3] == 0 then redis.call('PUBLISH', ARGV[NOTE + 1], ARGV[NOTE + 2]) end\n",
    { uses: ['out', 'NOTE'] },
  ),
  RETURN_OUT,
])

/**
 * {@link INVALIDATE_LABELS_LUA}, then, after its last batch, the message ARGV[NOTE + 3] to the inbox
 * `ARGV[NOTE + 2]:<member>` of every live member of the registry ARGV[NOTE + 1] but ARGV[NOTE + 4] (the
 * sender's own), as the bus's broadcast does: standalone Redis only (the registry is not in the
 * tenant's slot).
 */
export const INVALIDATE_LABELS_BROADCAST_LUA = composeLua('INVALIDATE_LABELS_BROADCAST', [
  ...PRELUDE,
  INVALIDATE,
  luaFragment(
    'broadcast arguments when done',
    'if out[3] == 0 then\nlocal REGISTRY, CHANNEL, TEXT, ORIGIN = ARGV[NOTE + 1], ARGV[NOTE + 2], ARGV[NOTE + 3], ARGV[NOTE + 4]\n',
    { defines: ['REGISTRY', 'CHANNEL', 'TEXT', 'ORIGIN'], uses: ['out', 'NOTE'] },
  ),
  BROADCAST_FRAGMENT,
  luaFragment('end broadcast', 'end\n'),
  RETURN_OUT,
])
