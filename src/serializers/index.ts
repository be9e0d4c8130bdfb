/** Serializers for shared backends. */
export type { Serializer } from './contract.js'
export { MsgpackSerializer } from './msgpack.js'
export { JsonSerializer } from './json.js'
export { checkStorable } from './check.js'
