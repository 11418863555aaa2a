/**
 * Reads a casync index (.caibx / .caidx): a CaFormatIndex header (48 bytes), a table
 * header (16 bytes), then 40-byte items {end offset le64, chunk id 32 bytes} closed by a
 * tail whose first word is zero. Gives casync's own view of "new bytes": the logical size
 * of the chunks of v2 that v1 does not reference.
 */
import { readFileSync } from 'node:fs'

export interface IndexChunk { id: string, size: number }

export function readCasyncIndex (path: string): IndexChunk[] {
  const buf = readFileSync(path)
  const chunks: IndexChunk[] = []
  let prev = 0n
  for (let o = 64; o + 40 <= buf.length; o += 40) {
    const end = buf.readBigUInt64LE(o)
    if (end === 0n) break
    chunks.push({ id: buf.subarray(o + 8, o + 40).toString('hex'), size: Number(end - prev) })
    prev = end
  }
  return chunks
}

/** Bytes of the chunks in `v2` whose ids are not in `v1` (each distinct chunk once). */
export function newChunkBytes (v1: IndexChunk[], v2: IndexChunk[]): { bytes: number, chunks: number } {
  const known = new Set(v1.map(c => c.id))
  let bytes = 0
  let chunks = 0
  for (const c of v2) {
    if (known.has(c.id)) continue
    known.add(c.id)
    bytes += c.size
    chunks++
  }
  return { bytes, chunks }
}
