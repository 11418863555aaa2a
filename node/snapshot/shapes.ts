/**
 * The two list shapes of a manifest and their content-defined leaf boundaries.
 * Chunk lists end a leaf after a chunk whose digest ends in a zero byte (~256 refs,
 * ~11 KB per leaf); folder lists end a leaf after an entry whose name hashes to a
 * multiple of 64 (~64 entries). Both are part of the manifest format: golden tests pin them.
 */
import { entryToCbor, type ChunkRef, type Entry } from '../../protocol/manifest.ts'
import type { ListShape } from './list-tree.ts'

export const CHUNK_LIST: ListShape<ChunkRef> = {
  boundary: ([cid]) => cid.multihash.digest[cid.multihash.digest.length - 1] === 0,
  sizeOf: () => 48,
  toCbor: ref => ref,
  maxItems: 1024
}

export function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const ENTRY_LIST: ListShape<Entry> = {
  boundary: entry => (fnv1a(entry.name) & 63) === 0,
  sizeOf: entry => 64 + entry.name.length * 3 + (entry.target?.length ?? 0) * 3 + (entry.data?.length ?? 0) * 48,
  toCbor: entryToCbor,
  maxItems: 512
}

/** Files with at most this many chunks keep their chunk refs inline in the entry. */
export const INLINE_CHUNK_REFS = 16
