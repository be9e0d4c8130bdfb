/**
 * The Lua scripts of the Redis storage as {@link LuaScript}s (sources and key layout in `prelude.ts`,
 * `fence.ts` and `registry.ts`).
 */
import { LuaScript } from './connection.js'
import {
  INVALIDATE_LABELS_BROADCAST_LUA,
  INVALIDATE_LABELS_LUA,
  INVALIDATE_LABELS_PUBLISH_LUA,
} from './lua-labels.js'
import { FENCE_READ_LUA } from './fence.js'
import { REGISTRY_SCRIPTS } from './registry.js'
import {
  GET_MANY_TTL_LUA,
  GET_TTL_LUA,
  TOUCH_LUA,
  TOUCH_TTL_LUA,
  WRITE_BATCH_LUA,
  WRITE_BROADCAST_LUA,
  WRITE_LUA,
  WRITE_PUBLISH_LUA,
} from './lua.js'
import {
  COUNT_LUA,
  DELETE_LUA,
  DELETE_MANY_LUA,
  EVICT_SCOPE_LUA,
  SWEEP_LUA,
  WIDE_ADMIT_LUA,
  WIDE_TOUCH_LUA,
} from './lua-remove.js'

export const WRITE = new LuaScript(WRITE_LUA.source)
export const WRITE_BATCH = new LuaScript(WRITE_BATCH_LUA.source)
export const WRITE_PUBLISH = new LuaScript(WRITE_PUBLISH_LUA.source)
export const WRITE_BROADCAST = new LuaScript(WRITE_BROADCAST_LUA.source)
export const TOUCH = new LuaScript(TOUCH_LUA.source)
export const GET_TTL = new LuaScript(GET_TTL_LUA.source)
export const GET_MANY_TTL = new LuaScript(GET_MANY_TTL_LUA)
export const TOUCH_TTL = new LuaScript(TOUCH_TTL_LUA.source)
export const DELETE = new LuaScript(DELETE_LUA.source)
export const DELETE_MANY = new LuaScript(DELETE_MANY_LUA.source)
export const EVICT_SCOPE = new LuaScript(EVICT_SCOPE_LUA.source)
export const COUNT = new LuaScript(COUNT_LUA.source)
export const SWEEP = new LuaScript(SWEEP_LUA.source)
export const WIDE_ADMIT = new LuaScript(WIDE_ADMIT_LUA.source)
export const WIDE_TOUCH = new LuaScript(WIDE_TOUCH_LUA.source)
export const FENCE_READ = new LuaScript(FENCE_READ_LUA)
export const INVALIDATE_LABELS = new LuaScript(INVALIDATE_LABELS_LUA.source)
export const INVALIDATE_LABELS_PUBLISH = new LuaScript(INVALIDATE_LABELS_PUBLISH_LUA.source)
export const INVALIDATE_LABELS_BROADCAST = new LuaScript(INVALIDATE_LABELS_BROADCAST_LUA.source)
/** Every script of the storage, preloaded on connection. */
export const SCRIPTS = [
  ...REGISTRY_SCRIPTS,
  FENCE_READ,
  WRITE,
  WRITE_BATCH,
  WRITE_PUBLISH,
  WRITE_BROADCAST,
  TOUCH,
  TOUCH_TTL,
  GET_TTL,
  GET_MANY_TTL,
  DELETE,
  DELETE_MANY,
  EVICT_SCOPE,
  COUNT,
  SWEEP,
  WIDE_ADMIT,
  WIDE_TOUCH,
  INVALIDATE_LABELS,
  INVALIDATE_LABELS_PUBLISH,
  INVALIDATE_LABELS_BROADCAST,
]
