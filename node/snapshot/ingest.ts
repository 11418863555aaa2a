/**
 * Ingest: bytes → content-defined chunks → CIDs → store (new chunks only). Shared by
 * folder and image snapshots.
 */
import { chunk, DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from '../chunker/index.ts'
import { chunkCid } from '../../protocol/cid.ts'
import type { ChunkRef } from '../../protocol/manifest.ts'
import type { BlockStore } from '../store/types.ts'

export interface IngestStats {
  /** Logical bytes read. */
  bytes: number
  chunks: number
  /** Bytes and chunks that were not in the store before. */
  newBytes: number
  newChunks: number
}

export function emptyStats (): IngestStats {
  return { bytes: 0, chunks: 0, newBytes: 0, newChunks: 0 }
}

export interface IngestOptions {
  store: Pick<BlockStore, 'put'>
  stats: IngestStats
  params?: ChunkerParams
  signal?: AbortSignal
  onChunk: (ref: ChunkRef) => Promise<void> | void
  onProgress?: (stats: IngestStats) => void
}

export async function ingest (source: AsyncIterable<Uint8Array>, options: IngestOptions): Promise<void> {
  const { store, stats, signal } = options
  for await (const piece of chunk(source, options.params ?? DEFAULT_CHUNKER_PARAMS)) {
    signal?.throwIfAborted()
    const cid = chunkCid(piece)
    const wrote = await store.put(cid, piece)
    stats.bytes += piece.length
    stats.chunks++
    if (wrote) { stats.newBytes += piece.length; stats.newChunks++ }
    await options.onChunk([cid, piece.length])
    options.onProgress?.(stats)
  }
}
