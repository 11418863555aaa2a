/**
 * Content-defined chunking. `chunk(source)` turns any stream of byte buffers into a
 * stream of chunks whose boundaries depend only on content: the same bytes give the same
 * chunks wherever they sit in a file, so an insertion moves only the chunks around it.
 * Pure and streaming: memory is bounded by one read buffer plus one maximum chunk.
 */
import { findCut } from './fastcdc.ts'
import { DEFAULT_CHUNKER_PARAMS, checkParams, masksFor, type ChunkerParams } from './params.ts'

export { DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from './params.ts'
export { findCut } from './fastcdc.ts'

/**
 * Yields the chunks of `source`, grouped per input piece so callers can look them up in
 * batches. Chunks are views into the input buffers (or into a small bridge buffer for a
 * chunk that straddles two reads): consume each batch before pulling the next, or copy.
 * Only the straddling bytes are ever copied, never a whole read.
 */
export async function * chunkBatches (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS): AsyncGenerator<Uint8Array[]> {
  checkParams(params)
  const masks = masksFor(params)
  let tail: Uint8Array = new Uint8Array(0)
  for await (const piece of source) {
    if (piece.length === 0) continue
    const batch: Uint8Array[] = []
    let buf: Uint8Array
    let pos = 0
    if (tail.length > 0) {
      // Bridge: the tail plus enough of the new piece to find every cut that starts in the tail.
      const head = piece.subarray(0, params.maxSize)
      const bridge = concat(tail, head)
      while (pos < tail.length) {
        const len = findCut(bridge, pos, bridge.length, params, masks, false)
        if (len <= 0) break
        batch.push(bridge.subarray(pos, pos + len))
        pos += len
      }
      if (pos < tail.length) {
        // The new piece was too short to settle the tail's cuts: carry everything forward.
        tail = concat(tail, piece)
        if (batch.length > 0) { tail = tail.subarray(pos); yield batch }
        continue
      }
      buf = piece
      pos -= tail.length
    } else {
      buf = piece
    }
    while (true) {
      const len = findCut(buf, pos, buf.length, params, masks, false)
      if (len <= 0) break
      batch.push(buf.subarray(pos, pos + len))
      pos += len
    }
    tail = buf.subarray(pos)
    if (batch.length > 0) yield batch
  }
  const last: Uint8Array[] = []
  let pos = 0
  while (pos < tail.length) {
    const len = findCut(tail, pos, tail.length, params, masks, true)
    last.push(tail.subarray(pos, pos + len))
    pos += len
  }
  if (last.length > 0) yield last
}

/** The chunks of `source` one by one (see chunkBatches for the buffer rules). */
export async function * chunk (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS): AsyncGenerator<Uint8Array> {
  for await (const batch of chunkBatches(source, params)) yield * batch
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** Synchronous chunking of one in-memory buffer (tests, small inputs). Returns lengths. */
export function cutPoints (data: Uint8Array, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS): number[] {
  checkParams(params)
  const masks = masksFor(params)
  const lengths: number[] = []
  let pos = 0
  while (pos < data.length) {
    const len = findCut(data, pos, data.length, params, masks, true)
    lengths.push(len)
    pos += len
  }
  return lengths
}
