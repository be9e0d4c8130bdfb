import * as zlib from 'node:zlib'
import { ConfigurationError } from '../errors.js'
import { COMPRESSION_CODES } from './frame.js'
import type { CompressionCode } from './frame.js'

/** The compression algorithms of the pipeline; `'zstd'` needs a Node.js with `zlib.zstdCompressSync` (22.15+, 24). */
export type CompressionAlgorithm = 'gzip' | 'brotli' | 'zstd'

/** A compressor bound to its settings. */
export interface Codec {
  readonly code: CompressionCode
  compress(bytes: Uint8Array): Buffer
  /** Decompresses to exactly `rawLength` bytes at most (a larger output throws: a decompression bomb). */
  decompress(bytes: Uint8Array, rawLength: number): Buffer
}

/** zstd's entry points, present in Node.js 22.15+ and 24 only (typed here so Node 20's types compile). */
interface ZstdZlib {
  zstdCompressSync?: (bytes: Uint8Array, options?: object) => Buffer
  zstdDecompressSync?: (bytes: Uint8Array, options?: object) => Buffer
}

/** Whether this Node.js has zstd (`zlib.zstdCompressSync`). */
export const zstdAvailable = (): boolean =>
  typeof (zlib as unknown as ZstdZlib).zstdCompressSync === 'function'

/**
 * The codec of `algorithm` at `level` (gzip 1-9, default 6; brotli quality 0-11, default 4; zstd
 * 1-22, default 3). Throws a `ConfigurationError` for an unknown algorithm, a level out of range, or
 * zstd on a Node.js without it.
 */
export function codecOf(algorithm: CompressionAlgorithm, level: number | undefined): Codec {
  const range = { gzip: [1, 9, 6], brotli: [0, 11, 4], zstd: [1, 22, 3] }[algorithm] as
    [number, number, number] | undefined
  if (range === undefined) {
    throw new ConfigurationError(
      `SerializerPipeline: unknown compression algorithm ${JSON.stringify(algorithm)}; use 'gzip', 'brotli' or 'zstd'`,
    )
  }
  const [min, max, fallback] = range
  if (level !== undefined && !(Number.isInteger(level) && level >= min && level <= max)) {
    throw new ConfigurationError(
      `SerializerPipeline: ${algorithm} level must be an integer from ${min} to ${max}, got ${String(level)}`,
    )
  }
  const chosen = level ?? fallback
  const code = COMPRESSION_CODES[algorithm]
  if (algorithm === 'gzip') {
    return {
      code,
      compress: (bytes) => zlib.gzipSync(bytes, { level: chosen }),
      decompress: (bytes, rawLength) => zlib.gunzipSync(bytes, { maxOutputLength: Math.max(rawLength, 1) }),
    }
  }
  if (algorithm === 'brotli') {
    const params = { [zlib.constants.BROTLI_PARAM_QUALITY]: chosen }
    return {
      code,
      compress: (bytes) =>
        zlib.brotliCompressSync(bytes, {
          params: { ...params, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
        }),
      decompress: (bytes, rawLength) =>
        zlib.brotliDecompressSync(bytes, { maxOutputLength: Math.max(rawLength, 1) }),
    }
  }
  return zstdCodec(code, chosen)
}

function zstdCodec(code: CompressionCode, level: number): Codec {
  const z = zlib as unknown as ZstdZlib & { constants: Record<string, number> }
  if (!zstdAvailable()) {
    throw new ConfigurationError(
      `SerializerPipeline: compression 'zstd' needs Node.js 22.15 or later (zlib.zstdCompressSync); this is Node.js ${process.version}. Use 'brotli' or 'gzip' instead`,
    )
  }
  const compress = z.zstdCompressSync!
  const decompress = z.zstdDecompressSync!
  const levelParam = z.constants.ZSTD_c_compressionLevel!
  return {
    code,
    compress: (bytes) => compress(bytes, { params: { [levelParam]: level } }),
    decompress: (bytes, rawLength) => decompress(bytes, { maxOutputLength: Math.max(rawLength, 1) }),
  }
}

/** A codec for decoding whatever a frame says (any algorithm this Node.js has), lazily built. */
const decoders = new Map<CompressionCode, Codec>()

/** The codec that reads compression `code`; throws when this Node.js lacks it (zstd on Node 20). */
export function decoderOf(code: CompressionCode): Codec {
  let codec = decoders.get(code)
  if (codec === undefined) {
    const name = (Object.keys(COMPRESSION_CODES) as (keyof typeof COMPRESSION_CODES)[]).find(
      (key) => COMPRESSION_CODES[key] === code,
    ) as CompressionAlgorithm
    codec = codecOf(name, undefined)
    decoders.set(code, codec)
  }
  return codec
}
