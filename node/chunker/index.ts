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
 * Yields chunks as views into internal buffers: consume (hash, copy, write) each chunk
 * before pulling the next, or copy it if you need to keep it.
 */
export async function * chunk (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS): AsyncGenerator<Uint8Array> {
  checkParams(params)
  const masks = masksFor(params)
  let buf: Uint8Array = new Uint8Array(0)
  let pos = 0
  for await (const piece of source) {
    if (piece.length === 0) continue
    buf = pos < buf.length ? concat(buf.subarray(pos), piece) : piece
    pos = 0
    while (true) {
      const len = findCut(buf, pos, buf.length, params, masks, false)
      if (len <= 0) break
      yield buf.subarray(pos, pos + len)
      pos += len
    }
  }
  while (pos < buf.length) {
    const len = findCut(buf, pos, buf.length, params, masks, true)
    yield buf.subarray(pos, pos + len)
    pos += len
  }
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
