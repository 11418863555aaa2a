/**
 * Ingest: bytes → content-defined chunks → CIDs → store (new chunks only). Shared by
 * folder and image snapshots.
 */
import { chunkBatches, DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from '../chunker/index.ts'
import { chunkCid, type CID } from '../../protocol/cid.ts'
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
  store: Pick<BlockStore, 'put' | 'putMany'>
  stats: IngestStats
  params?: ChunkerParams
  signal?: AbortSignal
  onChunk: (ref: ChunkRef) => Promise<void> | void
  onProgress?: (stats: IngestStats) => void
}

export async function ingest (source: AsyncIterable<Uint8Array>, options: IngestOptions): Promise<void> {
  const { store, stats, signal } = options
  for await (const batch of chunkBatches(source, options.params ?? DEFAULT_CHUNKER_PARAMS)) {
    signal?.throwIfAborted()
    const blocks = batch.map((piece): [CID, Uint8Array] => [chunkCid(piece), piece])
    const wrote = store.putMany !== undefined
      ? await store.putMany(blocks)
      : await Promise.all(blocks.map(async ([cid, bytes]) => await store.put(cid, bytes)))
    for (const [i, [cid, piece]] of blocks.entries()) {
      stats.bytes += piece.length
      stats.chunks++
      if (wrote[i]) { stats.newBytes += piece.length; stats.newChunks++ }
      await options.onChunk([cid, piece.length])
    }
    options.onProgress?.(stats)
  }
}
