import { RokError } from '../../protocol/errors.ts'

/**
 * Chunk size parameters. See docs/CHUNKING.md for the measurements behind the defaults:
 * a 16 KiB average with normalization level 1 makes a shifted 1 % edit of a 1 GiB image
 * add 24.5 MB (casync, 64 KiB chunks compressed with zstd, adds 32.4 MB on disk; our
 * old 64 KiB default added 72.8 MB) for about 6 % more CPU per GB; level 1 resynchronises
 * boundaries after an insertion sooner than level 2 or 3.
 */
export interface ChunkerParams {
  minSize: number
  avgSize: number
  maxSize: number
  /** FastCDC normalization level: how much harder/easier cuts are before/after avgSize. */
  normalization: number
}

export const DEFAULT_CHUNKER_PARAMS: Readonly<ChunkerParams> = Object.freeze({
  minSize: 4 * 1024,
  avgSize: 16 * 1024,
  maxSize: 64 * 1024,
  normalization: 1
})

export interface Masks {
  /** Used below avgSize: more bits set, so cuts are rarer. */
  small: number
  /** Used from avgSize on: fewer bits set, so cuts come sooner. */
  large: number
}

/**
 * A mask with `bits` ones spread over the top of the 32-bit word. The gear hash shifts
 * left once per byte, so bit k depends on the last k+1 bytes: high bits see a window of
 * up to 32 bytes, which is what makes a cut depend on content and not on position.
 */
export function spreadMask (bits: number): number {
  if (bits <= 0) return 0
  let mask = 0
  const step = 31 / bits
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - Math.floor(i * step))
  return mask | 0
}

export function masksFor (params: ChunkerParams): Masks {
  const bits = Math.round(Math.log2(params.avgSize))
  return { small: spreadMask(bits + params.normalization), large: spreadMask(bits - params.normalization) }
}

export function checkParams (params: ChunkerParams): ChunkerParams {
  const { minSize, avgSize, maxSize, normalization } = params
  const ok = Number.isInteger(minSize) && Number.isInteger(avgSize) && Number.isInteger(maxSize) &&
    minSize >= 64 && minSize <= avgSize && avgSize <= maxSize && maxSize <= 16 * 1024 * 1024 &&
    (avgSize & (avgSize - 1)) === 0 && Number.isInteger(normalization) && normalization >= 0 && normalization <= 4
  if (!ok) {
    throw new RokError('ERR_INVALID_CHUNKER_PARAMS', `chunker sizes must satisfy 64 <= min <= avg <= max <= 16 MiB with avg a power of two (got min ${minSize}, avg ${avgSize}, max ${maxSize}, normalization ${normalization})`)
  }
  return params
}
