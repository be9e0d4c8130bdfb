import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JsonSerializer, MsgpackSerializer, SerializationError } from '../../src/index.js'

const sample = () => ({
  date: new Date('2024-05-06T07:08:09.010Z'),
  map: new Map<unknown, unknown>([
    ['a', 1],
    [2, new Set(['x'])],
  ]),
  set: new Set([1, 'two', null]),
  big: -98765432109876543210n,
  small: 7n,
  bytes: new Uint8Array([0, 7, 255]),
  buffer: Buffer.from('buf'),
  nested: { list: [1, 'x', null, true, { deep: undefined }], empty: {} },
  missing: undefined,
  special: [Number.NaN, Infinity, -Infinity, -0, 1.5],
  tagLike: { $t: 'Date', v: 5 },
  text: 'héllo 😀 \0 "quoted"',
})

describe.each([
  ['msgpack', new MsgpackSerializer()],
  ['json', new JsonSerializer()],
])('%s serializer', (_name, serializer) => {
  it('round-trips values with their types', () => {
    const back = serializer.deserialize(serializer.serialize(sample())) as ReturnType<typeof sample>
    expect(back).toEqual(sample())
    expect(back.date).toBeInstanceOf(Date)
    expect(back.map).toBeInstanceOf(Map)
    expect(back.map.get(2)).toBeInstanceOf(Set)
    expect(back.big).toBe(-98765432109876543210n)
    expect(back.small).toBe(7n)
    expect(back.bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.isBuffer(back.buffer)).toBe(true)
    expect('missing' in back).toBe(true)
    expect(Object.is(back.special[3], -0)).toBe(true)
    expect(back.tagLike).toEqual({ $t: 'Date', v: 5 })
    for (const scalar of [undefined, null, 0, 'x', true, 3n])
      expect(serializer.deserialize(serializer.serialize(scalar))).toEqual(scalar)
  })

  it('property: JSON-like values round-trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(serializer.deserialize(serializer.serialize(value))).toEqual(value)
      }),
      { numRuns: 200 },
    )
  })

  it.each([
    [{ f: () => 1 }, 'cannot store value.f: a function cannot be serialized'],
    [[Symbol('s')], 'cannot store value[0]: a symbol'],
    [{ p: Promise.resolve(1) }, 'a Promise cannot be serialized; await it first'],
    [new Map([['k', new WeakMap()]]), 'value<value 0>: a WeakMap'],
    [new Set([() => 1]), 'value<item 0>'],
  ])('refuses what cannot come back, naming where (%#)', (value, message) => {
    expect(() => serializer.serialize(value)).toThrow(SerializationError)
    expect(() => serializer.serialize(value)).toThrow(message)
  })

  it('refuses cycles but accepts shared references', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    expect(() => serializer.serialize(a)).toThrow('cannot store value.self: it contains a cycle')
    const shared = { x: 1 }
    expect(serializer.deserialize(serializer.serialize([shared, shared]))).toEqual([shared, shared])
  })

  it('bad bytes are a SerializationError', () => {
    expect(() => serializer.deserialize(Buffer.from([0x92, 0x01]))).toThrow(SerializationError)
  })
})

describe('json specifics', () => {
  it('refuses an unknown tag', () => {
    expect(() => new JsonSerializer().deserialize(Buffer.from('{"$t":"Alien"}'))).toThrow(
      'unknown type tag "Alien"',
    )
  })
})

describe('own __proto__ keys', () => {
  it.each([new MsgpackSerializer(), new JsonSerializer()])(
    'keep their name and never set a prototype (%#)',
    (serializer) => {
      const value = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": null}}') as Record<
        string,
        unknown
      >
      const back = serializer.deserialize(serializer.serialize(value)) as Record<string, unknown>
      expect(Object.keys(back)).toEqual(['__proto__', 'a'])
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(back).toEqual(value)
    },
  )
})

describe('msgpack inside null-prototype objects', () => {
  const serializer = new MsgpackSerializer()
  const roundTrip = (value: unknown) => serializer.deserialize(serializer.serialize(value))
  /** A null-prototype object with these own entries (`__proto__` included, as an own key). */
  const bare = (entries: [string, unknown][]) => {
    const object = Object.create(null) as Record<string, unknown>
    for (const [key, value] of entries)
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
    return object
  }

  it('keeps a Map, -0 and an own __proto__ key, at the top level and nested', () => {
    const inner = () =>
      bare([
        ['map', new Map<unknown, unknown>([['k\u0000', -0]])],
        ['zero', -0],
        ['__proto__', { polluted: true }],
        ['ok', 1],
      ])
    for (const value of [inner(), { nested: inner() }, [inner()], bare([['deep', [bare([['z', -0]])]]])]) {
      const back = roundTrip(value)
      const top = (
        Array.isArray(back) ? back[0] : ((back as Record<string, unknown>).nested ?? back)
      ) as Record<string, unknown>
      if ('deep' in top) {
        const z = ((top.deep as unknown[])[0] as Record<string, unknown>).z
        expect(Object.is(z, -0)).toBe(true)
        continue
      }
      expect(top.map).toBeInstanceOf(Map)
      expect(Object.is((top.map as Map<string, unknown>).get('k\u0000'), -0)).toBe(true)
      expect(Object.is(top.zero, -0)).toBe(true)
      expect(Object.prototype.hasOwnProperty.call(top, '__proto__')).toBe(true)
      expect(Object.getOwnPropertyDescriptor(top, '__proto__')!.value).toEqual({ polluted: true })
      expect(Object.keys(top)).toEqual(['map', 'zero', '__proto__', 'ok'])
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    }
  })
})
