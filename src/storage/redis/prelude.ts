import type { LuaFragment } from './compose.js'
import { luaFragment } from './compose.js'
import { FENCE_FRAGMENT } from './fence.js'
import { REGISTRATION_FRESH_MS } from './registry.js'

/**
 * The prelude every Redis script that takes the ARGV header starts with (parsed header, helpers), as
 * named fragments, and the key layout those scripts share.
 * Key layout (P = prefix, T = hash tag):
 *
 * - `P:{T}:d:<member>`  the entry's serialized value (string, native expiry with PXAT)
 * - `P:{T}:i:<path>`    ZSET: the members of every entry at or under scope `<path>`, scored by expiry
 *                       time in ms (`+inf` when none); one per scope node that holds entries. The tag's
 *                       root index (`P:{T}:i:T`, or `P:{@}:i:` for the global scope) holds every entry
 *                       of the tag, so it is also the tag's expiry index: expired members are purged
 *                       from it (no separate expiry ZSET to keep in step on every write)
 * - `P:{T}:b<id>:<path>` ZSET: group of one per-scope bound, scored by an access/insertion sequence;
 *                       `<id>` names the bound by what it is (see `boundId` in `keys.ts`), so
 *                       processes with the same bound share it whatever their rule lists
 * - `P:{T}:n`           counter for those sequences
 * - `P:{T}:r`           marker: the tag is listed in the registry `P:tags`. Its value is
 *                       `<creation id>:<earliest expiry>`: the registration id it was created with
 *                       (see `registry.ts`) and a lower bound on the earliest expiry time in the
 *                       tag's root index (`none`: no entry has a TTL); every write that adds an expiry
 *                       keeps it a lower bound, so a write purges only when something may be due
 *                       (removals only raise the true minimum). It goes when the tag's last entry goes.
 * - `P:{T}:f`           HASH: eviction generations of the tag's scopes, with a retention TTL (see
 *                       `fence.ts`)
 * - `P:{T}:t:<label>`   ZSET: the members of the tag's entries carrying the entry tag `<label>` (the
 *                       user's tags of `set(..., { tags })`, called labels here to keep them apart from
 *                       hash tags), scored like the indexes; `<label>` is the raw label (its own slot
 *                       is decided by the `{T}` before it, so any text is safe)
 * - `P:{T}:g:<member>`  SET: the labels of one labelled entry (no TTL: it goes with the entry's removal,
 *                       which is what lets a removal, a purge of an expired entry or a relabelling write
 *                       leave the label ZSETs; an unlabelled entry has none)
 * - `P:{T}:b<id>:<path>#` STRING: bytes of the members of that group (bounds with `maxBytes` only);
 *                       deleted with the group's last member
 * - `P:{T}:s`           HASH: member -> stored size in bytes (the value's byte length) of every entry of
 *                       the tag, and `P:{T}:z` STRING: their sum (only while a bound has `maxBytes`)
 * - `P:{@@}:b<id>`, `P:{@@}:x`, `P:{@@}:n`  the cache-wide bounds (their own slot); `P:{@@}:b<id>#`
 *                       and `P:{@@}:s` their byte counters and the members' sizes on a Cluster
 * - `P:tags`, `P:{P:tags}:e`, `P:{P:tags}:g`  the registry of tags (see `registry.ts`)
 *
 * `<member>` is `encodeEntryRef(ref)`; `T` is the encoded top-level segment of the entry's scope
 * (`level=id/`, which always contains `=`), or `@` for the global scope. Every key an entry touches
 * except the cache-wide ones therefore hashes to its tenant's slot.
 *
 * Each script gets the key it is addressed to in KEYS[1] (that is how a Cluster routes it); the write
 * script also gets the entry's index keys, which the client knows in advance. Other keys a script
 * touches are derived from members inside the script and carry the same `{T}` hash tag, so they live
 * in the same slot (victims of a bound, members of a scope are unknown before the script reads
 * them). The cache-wide keys `{@@}` are touched only when ARGV[2] is '1' (standalone Redis,
 * where slots do not matter); on a Cluster a second script runs on their own slot.
 *
 * ARGV header shared by all scripts: prefix, inline-wide flag, number of bounds, then per bound its
 * order (`l` LRU / `i` insertion), its maxItems (`0`: none), its maxBytes (`0`: none), its escaped
 * `per` level (`''`: cache-wide) and its id.
 */

/** The parsed ARGV header (see above): P, WIDE, NB, B, A (the index of the first script argument), WB. */
const HEADER = luaFragment(
  'header',
  `
local P = ARGV[1]
local WIDE = ARGV[2] == '1'
local NB = tonumber(ARGV[3])
local B = {}
local HASWIDE = false
local HASBYTES = false
for i = 1, NB do
  local o = 3 + (i - 1) * 5
  B[i] = { order = ARGV[o + 1], max = tonumber(ARGV[o + 2]), bytes = tonumber(ARGV[o + 3]), per = ARGV[o + 4], id = ARGV[o + 5] }
  if B[i].max == 0 then B[i].max = math.huge end
  if B[i].bytes > 0 then HASBYTES = true end
  if B[i].per == '' then HASWIDE = true end
end
local A = 3 + NB * 5
local WB = P .. ':{@@}:'
local WIDEX = WIDE and HASWIDE
`,
  { defines: ['P', 'WIDE', 'NB', 'B', 'A', 'WB', 'WIDEX', 'HASBYTES'] },
)

/** Clock, number formatting, markers and the inline registration of tags. */
const TAG_HELPERS = luaFragment(
  'tag helpers',
  `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(n)
  return string.format('%.0f', n)
end

-- A marker's value is '<creation id>:<earliest expiry or none>' (a bare expiry: creation id '0');
-- creation id 'p': written by a plain write before its tag's registration was confirmed.
local function mark_parts(v)
  local c, f = string.match(v, '^([%dp]*):(.*)$')
  if c then return c, f end
  return '0', v
end

-- Deletes the marker, bound counter (and a legacy expiry ZSET) of a tag that holds no entry any more;
-- returns the deleted marker's creation id ('' if there was none), for the registry's release.
local function drop_tag(base)
  local m = redis.call('GET', base .. 'r')
  redis.call('DEL', base .. 'r', base .. 'n', base .. 'x', base .. 's', base .. 'z')
  if m then return (mark_parts(m)) end
  return ''
end

-- Standalone only (the registry is on the same server): registers the tag of a member in the same
-- script as its first write, as REGISTER_LUA of registry.ts does; returns the registration id.
local function register_inline(member)
  local bar = string.find(member, '|', 1, true)
  local slash = string.find(member, '/', 1, true)
  local tag = '@'
  if slash and slash < bar then tag = string.sub(member, 1, slash) end
  local t = redis.call('TIME')
  local id = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local ids = P .. ':{' .. P .. ':tags}:e'
  local old = tonumber(redis.call('HGET', ids, tag) or '0') or 0
  if id <= old then id = old + 1 end
  id = string.format('%.0f', id)
  redis.call('HSET', ids, tag, id)
  redis.call('SADD', P .. ':tags', tag)
  return id
end

-- Whether a registration id (server µs of the registry's node) is recent enough to create a marker.
local function fresh_id(id)
  local t = redis.call('TIME')
  return tonumber(id) ~= nil and tonumber(id) >= tonumber(t[1]) * 1000000 + tonumber(t[2]) - ${REGISTRATION_FRESH_MS * 1000}
end
`,
  {
    defines: ['now_ms', 'num', 'mark_parts', 'drop_tag', 'register_inline', 'fresh_id'],
    uses: ['P'],
  },
)

/** Members, bound groups, removal, purging and admission into bounds. */
const ENTRY_HELPERS = luaFragment(
  'entry helpers',
  `
local function parse(member)
  local bar = string.find(member, '|', 1, true)
  local segs = {}
  for seg in string.gmatch(string.sub(member, 1, bar - 1), '[^/]*/') do segs[#segs + 1] = seg end
  local base
  if #segs == 0 then base = P .. ':{@}:' else base = P .. ':{' .. segs[1] .. '}:' end
  return segs, base
end

local function group(i, segs, base)
  local b = B[i]
  if b.per == '' then
    if WIDE then return WB .. 'b' .. b.id end
    return nil
  end
  local path = ''
  local head = b.per .. '='
  for j = 1, #segs do
    path = path .. segs[j]
    if string.sub(segs[j], 1, #head) == head then return base .. 'b' .. b.id .. ':' .. path end
  end
  return nil
end

local function counter(i, base)
  if B[i].per == '' then return WB .. 'n' end
  return base .. 'n'
end

-- Gives member the labels of the packed list (joined by newlines, which labels never contain; ''
-- for none) scored by score, leaving the label ZSETs of the labels it had before.
local function set_labels(member, base, packed, score)
  local g = base .. 'g:' .. member
  local old = redis.call('SMEMBERS', g)
  if #old > 0 then
    for _, l in ipairs(old) do redis.call('ZREM', base .. 't:' .. l, member) end
    redis.call('DEL', g)
  end
  if packed == '' then return end
  for l in string.gmatch(packed .. '\\n', '([^\\n]*)\\n') do
    redis.call('SADD', g, l)
    redis.call('ZADD', base .. 't:' .. l, score, member)
  end
end

local function remove(member)
  local segs, base = parse(member)
  local g = base .. 'g:' .. member
  local labels = redis.call('SMEMBERS', g)
  if #labels > 0 then
    for _, l in ipairs(labels) do redis.call('ZREM', base .. 't:' .. l, member) end
    redis.call('DEL', g)
  end
  local existed = redis.call('DEL', base .. 'd:' .. member)
  if #segs == 0 then redis.call('ZREM', base .. 'i:', member) end
  local path = ''
  for j = 1, #segs do
    path = path .. segs[j]
    redis.call('ZREM', base .. 'i:' .. path, member)
  end
  local size = 0
  if HASBYTES then
    size = tonumber(redis.call('HGET', base .. 's', member) or '0')
    if size > 0 then
      redis.call('HDEL', base .. 's', member)
      redis.call('DECRBY', base .. 'z', size)
    end
  end
  for i = 1, NB do
    local g = group(i, segs, base)
    if g and redis.call('ZREM', g, member) == 1 and size > 0 and B[i].bytes > 0 then
      if redis.call('DECRBY', g .. '#', size) <= 0 and redis.call('EXISTS', g) == 0 then redis.call('DEL', g .. '#') end
    end
  end
  if WIDEX then redis.call('ZREM', WB .. 'x', member) end
  return existed
end

local function purge(zkey, now, limit)
  local dead = redis.call('ZRANGEBYSCORE', zkey, '-inf', '(' .. num(now), 'LIMIT', 0, limit)
  for _, m in ipairs(dead) do remove(m) end
  return #dead
end

-- For a tag whose marker says something may be due (or that is new): purges up to 100 expired
-- entries of its root index, then returns its earliest expiry (nil: none left) and the purged count.
local function purge_due(root, now)
  local expired = purge(root, now, 100)
  local head = redis.call('ZRANGE', root, 0, 0, 'WITHSCORES')
  if head[2] and head[2] ~= 'inf' then return tonumber(head[2]), expired end
  return nil, expired
end

-- Puts a written member into the group g of bound b (an access sequence from counter key n) and
-- trims the group to b.max entries and b.bytes bytes (the counter g#: the sum of its members' sizes;
-- size and old: the member's size now and before this write), oldest first, never the member itself;
-- calls evict(victim) for each member trimmed, which must remove it from the group (and its bytes).
local function admit(g, n, b, member, fresh, size, old, evict)
  local seq = redis.call('INCR', n)
  local had = b.bytes > 0 and redis.call('ZSCORE', g, member)
  if b.order == 'l' or fresh then
    redis.call('ZADD', g, seq, member)
  else
    redis.call('ZADD', g, 'NX', seq, member)
  end
  local held = 0
  if b.bytes > 0 then
    local delta = size
    if had then delta = size - old end
    held = redis.call('INCRBY', g .. '#', delta)
  end
  while redis.call('ZCARD', g) > b.max or held > b.bytes do
    local victim = redis.call('ZRANGE', g, 0, 0)[1]
    if victim == member then victim = redis.call('ZRANGE', g, 1, 1)[1] end
    if not victim then break end
    evict(victim)
    redis.call('ZREM', g, victim)
    if b.bytes > 0 then held = tonumber(redis.call('GET', g .. '#') or '0') end
  end
end
`,
  {
    defines: ['parse', 'group', 'counter', 'set_labels', 'remove', 'purge', 'purge_due', 'admit'],
    uses: ['P', 'B', 'NB', 'WIDE', 'WB', 'WIDEX', 'HASBYTES', 'num'],
  },
)

/**
 * Helpers and the parsed ARGV header shared by the scripts (see the key layout above): the first
 * fragments of every script that takes the header.
 */
export const PRELUDE: readonly LuaFragment[] = [HEADER, TAG_HELPERS, FENCE_FRAGMENT, ENTRY_HELPERS]
