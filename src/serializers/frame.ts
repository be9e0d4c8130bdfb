/**
 * The byte layout of values written by the serializer pipeline (`pipeline.ts`):
 *
 * ```
 * 0..2  magic      0xC1 0x63 0x64   (0xC1 is never the first byte of msgpack, nor of UTF-8 JSON)
 * 3     version    0x01
 * 4     flags      bits 0-1 compression (0 none, 1 gzip, 2 brotli, 3 zstd), bit 2 encrypted, others 0
 * [compressed]  u32 BE length of the uncompressed bytes
 * [encrypted]   u8 key id length, key id (UTF-8), 12-byte IV
 * payload       the inner serializer's bytes (compressed, then encrypted, as the flags say)
 * [encrypted]   16-byte GCM tag
 * ```
 *
 * Bytes that do not start with the magic, or whose version or flags are not the above, are not a
 * frame: they are read as the inner serializer's plain bytes (values written before the pipeline was
 * switched on). With the built-in serializers a plain value never starts with 0xC1, so no plain value
 * is ever mistaken for a frame.
 */

/** First bytes of every frame. */
export const MAGIC = Uint8Array.of(0xc1, 0x63, 0x64)
/** The only frame version so far. */
export const VERSION = 1
/** Compression codes of the flags byte. */
export const COMPRESSION_CODES = { none: 0, gzip: 1, brotli: 2, zstd: 3 } as const
/** Name of a compression code. */
export type CompressionCode = (typeof COMPRESSION_CODES)[keyof typeof COMPRESSION_CODES]
const ENCRYPTED = 0b100
/** Bytes of an AES-GCM IV and tag. */
export const IV_BYTES = 12
export const TAG_BYTES = 16

/** What a frame header says. */
export interface FrameHeader {
  /** Compression code (0: none). */
  readonly compression: CompressionCode
  /** Length of the uncompressed bytes (when compressed). */
  readonly rawLength: number
  /** Key id (when encrypted). */
  readonly keyId?: string
  /** IV (when encrypted). */
  readonly iv?: Uint8Array
  /** Bytes of the header (everything before the payload): authenticated data when encrypted. */
  readonly headerLength: number
}

/** Writes a frame header. */
export function writeHeader(
  compression: CompressionCode,
  rawLength: number,
  encryption?: { readonly keyId: Buffer; readonly iv: Uint8Array },
): Buffer {
  const length =
    5 + (compression === 0 ? 0 : 4) + (encryption === undefined ? 0 : 1 + encryption.keyId.length + IV_BYTES)
  const header = Buffer.allocUnsafe(length)
  header.set(MAGIC, 0)
  header[3] = VERSION
  header[4] = compression | (encryption === undefined ? 0 : ENCRYPTED)
  let at = 5
  if (compression !== 0) at = header.writeUInt32BE(rawLength, at)
  if (encryption !== undefined) {
    header[at++] = encryption.keyId.length
    header.set(encryption.keyId, at)
    at += encryption.keyId.length
    header.set(encryption.iv, at)
  }
  return header
}

/**
 * The header of `bytes`, `undefined` when they are not a frame (plain bytes), or `'truncated'` for an
 * encrypted frame too short to hold its header and tag (never read as plain bytes).
 */
export function readHeader(bytes: Uint8Array): FrameHeader | 'truncated' | undefined {
  if (bytes.length < 5 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2])
    return undefined
  if (bytes[3] !== VERSION) return undefined
  const flags = bytes[4]!
  if ((flags & ~0b111) !== 0) return undefined
  const compression = (flags & 0b11) as CompressionCode
  let at = 5
  let rawLength = 0
  if (compression !== 0) {
    if (bytes.length < at + 4) return (flags & ENCRYPTED) === 0 ? undefined : 'truncated'
    rawLength = ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!
    at += 4
  }
  if ((flags & ENCRYPTED) === 0) return { compression, rawLength, headerLength: at }
  if (bytes.length < at + 1) return 'truncated'
  const idLength = bytes[at++]!
  if (bytes.length < at + idLength + IV_BYTES + TAG_BYTES) return 'truncated'
  const keyId = Buffer.from(bytes.buffer, bytes.byteOffset + at, idLength).toString('utf8')
  at += idLength
  const iv = bytes.subarray(at, at + IV_BYTES)
  return { compression, rawLength, keyId, iv, headerLength: at + IV_BYTES }
}
