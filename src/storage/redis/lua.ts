import { composeLua, luaFragment } from './compose.js'
import { PRELUDE } from './prelude.js'

/**
 * Lua sources of the Redis storage's reading and writing scripts, each composed from the shared
 * {@link PRELUDE} (key layout and ARGV header in `prelude.ts`) and named fragments of its own. The
 * removing ones are in `lua-remove.ts`, fences in `fence.ts`, the registry's in `registry.ts`.
 */
/** The `return out` that ends the write scripts (after whatever they send with the write). */
const RETURN_OUT = luaFragment('return out', 'return out\n', { uses: ['out'] })

/**
 * Writes one entry. KEYS[1] data key, KEYS[2] the tag's root index, KEYS[3..] the indexes of the
 * entry's deeper scope nodes, outermost first (all known to the client, all in the tag's slot). ARGV
 * after the header: member, value, ttl in ms ('' for none), the tag's key base (`P:{T}:`), a fresh
 * registration id ('' for none, see `registry.ts`), a packed fence ('' for none, see
 * `fence.ts`), the entry's labels (user tags) joined by newlines ('' for none; see `set_labels` in `prelude.ts`).
 * Writes nothing and returns `{0, -1}` when the fence no longer holds, `{0, -3, creation id}` when its
 * generations hold but the tag's marker changed since (see `fence_holds` in `fence.ts`). A fenced write to a tag without
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
if fence ~= '' then
  local held = fence_holds(fence, (parse(member)), base, made, now, member)
  if held == 0 then return { 0, -1 } end
  -- registered since the fence (e.g. by a concurrent first write): the client checks the clear() generation
  if held == 2 then return { 0, -3, made or '' } end
end
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
-- byte budgets: the stored size is the value's byte length; the old one is kept until the entry goes
local size = #ARGV[A + 2]
local old = 0
if HASBYTES then
  old = tonumber(redis.call('HGET', base .. 's', member) or '0')
  redis.call('HSET', base .. 's', member, size)
  redis.call('INCRBY', base .. 'z', size - old)
end
if ttl == '' then
  redis.call('SET', data, ARGV[A + 2])
  if WIDEX then redis.call('ZREM', WB .. 'x', member) end
else
  redis.call('SET', data, ARGV[A + 2], 'PXAT', when)
  if WIDEX then redis.call('ZADD', WB .. 'x', when, member) end
end
for k = 2, #KEYS do redis.call('ZADD', KEYS[k], score, member) end
set_labels(member, base, ARGV[A + 7], score)
-- stored: the entry's generation (see FENCE_READ_LUA) is no longer needed
if fence ~= '' then redis.call('HDEL', base .. 'f', member) end
local out = { fresh and 1 or 0, register, 0, when }
if NB > 0 then
  local segs = parse(member)
  for i = 1, NB do
    local g = group(i, segs, base)
    if g then
      admit(g, counter(i, base), B[i], member, fresh, size, old, function(victim)
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
      'set_labels',
      'admit',
      'HASBYTES',
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
 * per entry its member, value, ttl in ms ('' for none), number of deeper index keys and labels (as in
 * {@link WRITE_LUA}).
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
local base = string.sub(KEYS[2], 1, -2)
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
  set_labels(member, base, ARGV[a + 4], score)
  a = a + 5
  k = k + 1 + deeper
end
if changed then redis.call('SET', KEYS[2], made .. ':' .. (first and num(first) or 'none')) end
return { made == 'p' and 1 or 0, expired }
`,
    { uses: ['A', 'WIDE', 'mark_parts', 'now_ms', 'register_inline', 'purge_due', 'num', 'set_labels'] },
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
 * {@link WRITE_LUA}, then a PUBLISH of ARGV[A + 9] on the channel ARGV[A + 8] in the same script: the
 * invalidation of a local tier's write leaves with the write itself (no second command, and never a
 * write without its message).
 */
export const WRITE_PUBLISH_LUA = composeLua('WRITE_PUBLISH', [
  ...PRELUDE,
  WRITE_ENTRY,
  luaFragment('publish', "redis.call('PUBLISH', ARGV[A + 8], ARGV[A + 9])\n", { uses: ['A'] }),
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
 * {@link WRITE_LUA}, then the message ARGV[A + 10] to the inbox `ARGV[A + 9]:<member>` of every live
 * member of the registry ARGV[A + 8] but ARGV[A + 11] (the writer's own): standalone Redis only, since
 * the registry is not one of the script's keys.
 */
export const WRITE_BROADCAST_LUA = composeLua('WRITE_BROADCAST', [
  ...PRELUDE,
  WRITE_ENTRY,
  luaFragment(
    'broadcast arguments',
    'local REGISTRY, CHANNEL, TEXT, ORIGIN = ARGV[A + 8], ARGV[A + 9], ARGV[A + 10], ARGV[A + 11]\n',
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

/**
 * GET and PTTL of every key of KEYS: `{v1, pttl1, v2, pttl2, ...}` (a miss: `false` then -2). A loop,
 * not `MGET` with `unpack`, which Lua limits to a few thousand arguments.
 */
export const GET_MANY_TTL_LUA = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    out[2 * i - 1] = v
    out[2 * i] = redis.call('PTTL', KEYS[i])
  else
    out[2 * i - 1] = false
    out[2 * i] = -2
  end
end
return out
`
