import type { LuaFragment } from './compose.js'
import { composeLua, luaFragment } from './compose.js'
import { FENCE_FRAGMENT } from './fence.js'
import { REGISTRATION_FRESH_MS } from './registry.js'

/**
 * Lua sources of the Redis storage's reading and writing scripts (the removing ones are in
 * `lua-remove.ts`, fences in `fence.ts`, the registry's in `registry.ts`).
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
 * - `P:{@@}:b<id>`, `P:{@@}:x`, `P:{@@}:n`  the cache-wide bounds (their own slot)
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
 * order (`l` LRU / `i` insertion), its maxItems, its escaped `per` level (`''`: cache-wide) and its id.
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
for i = 1, NB do
  local o = 3 + (i - 1) * 4
  B[i] = { order = ARGV[o + 1], max = tonumber(ARGV[o + 2]), per = ARGV[o + 3], id = ARGV[o + 4] }
  if B[i].per == '' then HASWIDE = true end
end
local A = 3 + NB * 4
local WB = P .. ':{@@}:'
local WIDEX = WIDE and HASWIDE
`,
  { defines: ['P', 'WIDE', 'NB', 'B', 'A', 'WB', 'WIDEX'] },
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
  redis.call('DEL', base .. 'r', base .. 'n', base .. 'x')
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

local function remove(member)
  local segs, base = parse(member)
  local existed = redis.call('DEL', base .. 'd:' .. member)
  if #segs == 0 then redis.call('ZREM', base .. 'i:', member) end
  local path = ''
  for j = 1, #segs do
    path = path .. segs[j]
    redis.call('ZREM', base .. 'i:' .. path, member)
  end
  for i = 1, NB do
    local g = group(i, segs, base)
    if g then redis.call('ZREM', g, member) end
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

-- Puts a written member into bound group g (an access sequence from counter key n) and trims the
-- group to max entries, oldest first; calls evict(victim) for each member trimmed.
local function admit(g, n, order, max, member, fresh, evict)
  local seq = redis.call('INCR', n)
  if order == 'l' or fresh then
    redis.call('ZADD', g, seq, member)
  else
    redis.call('ZADD', g, 'NX', seq, member)
  end
  while redis.call('ZCARD', g) > max do
    local victim = redis.call('ZRANGE', g, 0, 0)[1]
    redis.call('ZREM', g, victim)
    evict(victim)
  end
end
`,
  {
    defines: ['parse', 'group', 'counter', 'remove', 'purge', 'purge_due', 'admit'],
    uses: ['P', 'B', 'NB', 'WIDE', 'WB', 'WIDEX', 'num'],
  },
)

/**
 * Helpers and the parsed ARGV header shared by the scripts (see the key layout above): the first
 * fragments of every script that takes the header.
 */
export const PRELUDE: readonly LuaFragment[] = [HEADER, TAG_HELPERS, FENCE_FRAGMENT, ENTRY_HELPERS]

/** The `return out` that ends the write scripts (after whatever they send with the write). */
const RETURN_OUT = luaFragment('return out', 'return out\n', { uses: ['out'] })

/**
 * Writes one entry. KEYS[1] data key, KEYS[2] the tag's root index, KEYS[3..] the indexes of the
 * entry's deeper scope nodes, outermost first (all known to the client, all in the tag's slot). ARGV
 * after the header: member, value, ttl in ms ('' for none), the tag's key base (`P:{T}:`), a fresh
 * registration id ('' for none, see `registry.ts`), a packed fence ('' for none, see
 * `fence.ts`).
 * Writes nothing and returns `{0, -1}` when the fence no longer holds. A fenced write to a tag without
 * a confirmed registration writes nothing and returns `{0, -2}` (the client registers the tag and runs
 * it again with the id); a plain one on a standalone Redis registers the tag in the same script, and on
 * a Cluster writes, marks the tag pending, and asks for the registration.
 * Purges up to 100 expired entries of the tag first when its marker says some may be due (and of the
 * cache-wide bounds when inline), so that expired entries neither hold places in bounds nor pile up
 * in indexes; when nothing is due, that check is the one GET of the marker, which the registration
 * needs anyway.
 * An expired predecessor's traces need no removal: the entry's index and bound keys follow from its
 * member, so the ZADDs below overwrite them (and a write without TTL leaves the inline cache-wide
 * expiry ZSET explicitly).
 * Returns `{fresh, register, expired, when, i1, victim1, i2, victim2, ...}`: whether the entry is new
 * (only computed when there are bounds, 0 otherwise), whether the tag's registration must be
 * confirmed, how many expired entries were purged, the expiry time ('' for none), then each entry evicted by
 * bound `i`.
 */
const WRITE_ENTRY = luaFragment(
  'write entry',
  `
local member = ARGV[A + 1]
local ttl = ARGV[A + 3]
local base = ARGV[A + 4]
local creation = ARGV[A + 5]
local fence = ARGV[A + 6]
local data = KEYS[1]
local mark = base .. 'r'
local seen = redis.call('GET', mark)
local made = nil
local first = nil
if seen then
  local f
  made, f = mark_parts(seen)
  first = tonumber(f)
end
-- the clock is needed for an expiry, a fence, or to see whether the earliest one has passed
local now = 0
if ttl ~= '' or first or not seen or fence ~= '' then now = now_ms() end
if fence ~= '' and not fence_holds(fence, (parse(member)), base, made, now) then return { 0, -1 } end
-- a tag without a confirmed registration (see registry.ts)
local register = 0
local relabel = false
if not seen or made == 'p' then
  if creation ~= '' and fresh_id(creation) then
    made = creation
    relabel = true
  elseif WIDE and fence == '' then
    made = register_inline(member)
    relabel = true
  elseif fence ~= '' then
    return { 0, -2 }
  else
    if not seen then made = 'p' end
    register = 1
  end
end
local when = ''
local score = '+inf'
local due = nil
if ttl ~= '' then
  due = now + math.ceil(tonumber(ttl)) - 1
  when = num(due)
  score = when
end
local changed = false
local expired = 0
if not seen or (first and first < now) then
  -- something may be due (or the tag is new): purge, then read the new earliest expiry
  first, expired = purge_due(KEYS[2], now)
  changed = true
end
if due and (first == nil or due < first) then
  first = due
  changed = true
end
if changed or relabel then redis.call('SET', mark, made .. ':' .. (first and num(first) or 'none')) end
if WIDEX then expired = expired + purge(WB .. 'x', now_ms(), 100) end
local fresh = NB > 0 and redis.call('EXISTS', data) == 0
if ttl == '' then
  redis.call('SET', data, ARGV[A + 2])
  if WIDEX then redis.call('ZREM', WB .. 'x', member) end
else
  redis.call('SET', data, ARGV[A + 2], 'PXAT', when)
  if WIDEX then redis.call('ZADD', WB .. 'x', when, member) end
end
for k = 2, #KEYS do redis.call('ZADD', KEYS[k], score, member) end
local out = { fresh and 1 or 0, register, 0, when }
if NB > 0 then
  local segs = parse(member)
  for i = 1, NB do
    local g = group(i, segs, base)
    if g then
      admit(g, counter(i, base), B[i].order, B[i].max, member, fresh, function(victim)
        if remove(victim) == 1 then
          out[#out + 1] = i
          out[#out + 1] = victim
        else
          expired = expired + 1
        end
      end)
    end
  end
end
out[3] = expired
`,
  {
    defines: ['out', 'expired'],
    uses: [
      'A',
      'mark_parts',
      'now_ms',
      'fence_holds',
      'parse',
      'fresh_id',
      'register_inline',
      'purge_due',
      'admit',
    ],
  },
)

/** {@link WRITE_ENTRY} alone. */
export const WRITE_LUA = composeLua('WRITE', [...PRELUDE, WRITE_ENTRY, RETURN_OUT])

/**
 * Writes several entries of one tag, for a storage without bounds (the common case; with bounds every
 * write runs {@link WRITE_LUA}, which trims them). KEYS[1] the tag's root index, KEYS[2] the tag's
 * marker, then per entry its data key followed by the indexes of its deeper scope nodes, outermost
 * first (all in the tag's slot). ARGV after the header (with no bounds): the number of entries, then
 * per entry its member, value, ttl in ms ('' for none) and number of deeper index keys.
 * The marker logic is the one of {@link WRITE_LUA}: purge up to 100 expired entries first when the
 * marker says something may be due, keep the marker a lower bound on the earliest expiry. Entries are
 * written in order, so the last write of a key in the batch wins.
 * Returns `{register, expired}`: whether the tag's registration must be confirmed (its marker is
 * pending, see `registry.ts`), how many expired entries were purged.
 */
export const WRITE_BATCH_LUA = composeLua('WRITE_BATCH', [
  ...PRELUDE,
  luaFragment(
    'write batch',
    `
local mark = redis.call('GET', KEYS[2])
local now = now_ms()
local first = nil
local made = 'p'
if mark then
  local f
  made, f = mark_parts(mark)
  first = tonumber(f)
end
if WIDE and made == 'p' then made = register_inline(ARGV[A + 2]) end
local expired = 0
local changed = false
if not mark or (first and first < now) then
  first, expired = purge_due(KEYS[1], now)
  changed = true
end
local a = A + 2
local k = 3
for e = 1, tonumber(ARGV[A + 1]) do
  local member, ttl, deeper = ARGV[a], ARGV[a + 2], tonumber(ARGV[a + 3])
  local score = '+inf'
  if ttl == '' then
    redis.call('SET', KEYS[k], ARGV[a + 1])
  else
    local due = now + math.ceil(tonumber(ttl)) - 1
    score = num(due)
    redis.call('SET', KEYS[k], ARGV[a + 1], 'PXAT', score)
    if first == nil or due < first then
      first = due
      changed = true
    end
  end
  redis.call('ZADD', KEYS[1], score, member)
  for d = 1, deeper do redis.call('ZADD', KEYS[k + d], score, member) end
  a = a + 4
  k = k + 1 + deeper
end
if changed then redis.call('SET', KEYS[2], made .. ':' .. (first and num(first) or 'none')) end
return { made == 'p' and 1 or 0, expired }
`,
    { uses: ['A', 'WIDE', 'mark_parts', 'now_ms', 'register_inline', 'purge_due', 'num'] },
  ),
])

/** Reads KEYS[1]; the script answers nil (false) when it is absent. */
const READ_VALUE = luaFragment(
  'read value',
  `
local v = redis.call('GET', KEYS[1])
if not v then return false end
`,
  { defines: ['v'] },
)

/** Marks ARGV[A + 1] used in the LRU bounds handled in this slot. */
const MARK_USED = luaFragment(
  'mark used',
  `local member = ARGV[A + 1]
local segs, base = parse(member)
for i = 1, NB do
  if B[i].order == 'l' then
    local g = group(i, segs, base)
    if g then redis.call('ZADD', g, 'XX', redis.call('INCR', counter(i, base)), member) end
  end
end
`,
  { uses: ['A', 'NB', 'B', 'parse', 'group', 'counter'] },
)

/** Answers the value read. */
const RETURN_VALUE = luaFragment('return value', 'return v\n', { uses: ['v'] })

/** Answers `{value, PTTL}`. */
const RETURN_VALUE_AND_TTL = luaFragment(
  'return value and ttl',
  "return {v, redis.call('PTTL', KEYS[1])}\n",
  {
    uses: ['v'],
  },
)

/**
 * Reads one entry and marks it used for the LRU bounds handled in this slot.
 * KEYS[1] data key; ARGV after the header: member. Returns the value or nil.
 */
export const TOUCH_LUA = composeLua('TOUCH', [...PRELUDE, READ_VALUE, MARK_USED, RETURN_VALUE])

/**
 * {@link WRITE_LUA}, then a PUBLISH of ARGV[A + 8] on the channel ARGV[A + 7] in the same script: the
 * invalidation of a local tier's write leaves with the write itself (no second command, and never a
 * write without its message).
 */
export const WRITE_PUBLISH_LUA = composeLua('WRITE_PUBLISH', [
  ...PRELUDE,
  WRITE_ENTRY,
  luaFragment('publish', "redis.call('PUBLISH', ARGV[A + 7], ARGV[A + 8])\n", { uses: ['A'] }),
  RETURN_OUT,
])

/**
 * Sends a message to every live receiver's inbox but the sender's own (members of the receivers'
 * registry whose lease has not run out, server time). Used by the bus's broadcast and by the write
 * script (see {@link WRITE_BROADCAST_LUA}); uses REGISTRY, CHANNEL, ORIGIN and TEXT, which a fragment
 * before it defines. No live receiver registered (none, or the registry was flushed while receivers
 * still listen): to the shared channel, which every receiver also hears (it drops its own messages
 * there).
 */
export const BROADCAST_FRAGMENT = luaFragment(
  'broadcast',
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local members = redis.call('ZRANGEBYSCORE', REGISTRY, now, '+inf')

if #members == 0 then redis.call('PUBLISH', CHANNEL, TEXT) end
for _, m in ipairs(members) do
  if m ~= ORIGIN then redis.call('PUBLISH', CHANNEL .. ':' .. m, TEXT) end
end
`,
  { uses: ['REGISTRY', 'CHANNEL', 'ORIGIN', 'TEXT'] },
)

/**
 * {@link WRITE_LUA}, then the message ARGV[A + 9] to the inbox `ARGV[A + 8]:<member>` of every live
 * member of the registry ARGV[A + 7] but ARGV[A + 10] (the writer's own): standalone Redis only, since
 * the registry is not one of the script's keys.
 */
export const WRITE_BROADCAST_LUA = composeLua('WRITE_BROADCAST', [
  ...PRELUDE,
  WRITE_ENTRY,
  luaFragment(
    'broadcast arguments',
    'local REGISTRY, CHANNEL, TEXT, ORIGIN = ARGV[A + 7], ARGV[A + 8], ARGV[A + 9], ARGV[A + 10]\n',
    { defines: ['REGISTRY', 'CHANNEL', 'TEXT', 'ORIGIN'], uses: ['A'] },
  ),
  BROADCAST_FRAGMENT,
  RETURN_OUT,
])

/** {@link TOUCH_LUA} answering `{value, PTTL}` instead of the value. */
export const TOUCH_TTL_LUA = composeLua('TOUCH_TTL', [
  ...PRELUDE,
  READ_VALUE,
  MARK_USED,
  RETURN_VALUE_AND_TTL,
])

/** GET and PTTL of KEYS[1] at once: `{value, PTTL}`, or nil. */
export const GET_TTL_LUA = composeLua('GET_TTL', [READ_VALUE, RETURN_VALUE_AND_TTL])
