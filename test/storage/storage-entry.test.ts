/**
 * `cacheado/storage`, the provider authors' entry: it exports the contract, MISS, the key encoding with
 * its one decode, the serializers and the errors; the same names stay exported (deprecated) from
 * `cacheado`, as the very same values.
 */
import { describe, expect, it } from 'vitest'
import * as main from 'cacheado'
import * as storage from 'cacheado/storage'
import type { EntryRef, StorageContext, StorageProvider, SyncStorageOperations } from 'cacheado/storage'

describe('cacheado/storage', () => {
  it('exports what a provider needs, as the same values as cacheado', () => {
    expect(Object.keys(storage).sort()).toEqual([
      'BUS_RECEIVER_TIMING',
      'CacheError',
      'ConfigurationError',
      'InvalidArgumentError',
      'JsonSerializer',
      'MAX_TAGS_PER_ENTRY',
      'MAX_TAGS_PER_INVALIDATION',
      'MAX_TAG_LENGTH',
      'MISS',
      'MsgpackSerializer',
      'SerializationError',
      'SerializerPipeline',
      'StorageError',
      'TimeoutError',
      'UNREADABLE',
      'checkStorable',
      'checkTags',
      'decodeEntryRef',
      'decodeScopePath',
      'encodeEntryRef',
      'encodeScopePath',
      'encodeSegment',
      'escapeComponent',
      'unescapeComponent',
    ])
    expect(main.MISS).toBe(storage.MISS)
    expect(main.UNREADABLE).toBe(storage.UNREADABLE)
    expect(main.SerializerPipeline).toBe(storage.SerializerPipeline)
    expect(main.encodeEntryRef).toBe(storage.encodeEntryRef)
    expect(main.encodeScopePath).toBe(storage.encodeScopePath)
    expect(main.encodeSegment).toBe(storage.encodeSegment)
    expect(main.escapeComponent).toBe(storage.escapeComponent)
    expect(main.StorageError).toBe(storage.StorageError)
    expect(main.MAX_TAGS_PER_ENTRY).toBe(storage.MAX_TAGS_PER_ENTRY)
  })

  it('round-trips a hostile ref through the encoding a flat-key provider uses', () => {
    const ref: EntryRef = { scope: [{ level: 'organization', id: 'a/b=c|d%\u0000\n' }], key: '|k\u007f' }
    expect(storage.decodeEntryRef(storage.encodeEntryRef(ref))).toEqual(ref)
  })

  it('types a provider written against it alone', async () => {
    const sync: SyncStorageOperations = new main.InMemory().sync
    const provider: StorageProvider = new main.InMemory()
    const context: StorageContext = { bounds: [], onEvicted: () => {}, wantsEvictedRefs: false }
    provider.attach?.(context)
    expect(sync.get({ scope: [], key: 'missing' })).toBe(storage.MISS)
    await provider.close()
  })
})
