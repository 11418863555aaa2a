/**
 * FastCDC with normalized chunking (Xia et al., 2016/2020), as a pure function over bytes:
 * no I/O, no state beyond its arguments. `findCut` returns the length of the next chunk
 * starting at `start`; the streaming wrapper in index.ts calls it over a sliding buffer.
 */
import { GEAR } from './gear.ts'
import type { ChunkerParams, Masks } from './params.ts'

/**
 * Length of the chunk that starts at `start` in `buf[start, end)`. When fewer than
 * `maxSize` bytes are available and no cut is found, returns -1 unless `final` is set,
 * in which case the rest is one chunk.
 */
export function findCut (buf: Uint8Array, start: number, end: number, params: ChunkerParams, masks: Masks, final: boolean): number {
  const available = end - start
  if (available <= params.minSize) return final ? available : -1
  const limit = Math.min(available, params.maxSize)
  const normal = Math.min(limit, params.avgSize)
  const gear = GEAR
  const maskS = masks.small
  const maskL = masks.large
  let hash = 0
  let i = start + params.minSize
  const normalEnd = start + normal
  const limitEnd = start + limit
  for (; i < normalEnd; i++) {
    hash = ((hash << 1) + gear[buf[i]]) | 0
    if ((hash & maskS) === 0) return i + 1 - start
  }
  for (; i < limitEnd; i++) {
    hash = ((hash << 1) + gear[buf[i]]) | 0
    if ((hash & maskL) === 0) return i + 1 - start
  }
  if (limit === params.maxSize) return limit
  return final ? available : -1
}
