/**
 * Ingest: bytes → content-defined chunks → CIDs → store (new chunks only). Shared by
 * folder and image snapshots.
 */
import { chunkBatches, DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from '../chunker/index.ts'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import type { ChunkRef } from '../../protocol/manifest.ts'
import type { BlockStore } from '../store/types.ts'
import type { ChunkedBatch } from './worker-chunker.ts'

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
  /** Must copy what it keeps: a batch's bytes are handed back to the worker once stored. */
  store: Pick<BlockStore, 'put' | 'putMany'>
  stats: IngestStats
  params?: ChunkerParams
  signal?: AbortSignal
  onChunk: (ref: ChunkRef) => Promise<void> | void
  onProgress?: (stats: IngestStats) => void
}

export async function ingest (source: AsyncIterable<Uint8Array>, options: IngestOptions): Promise<void> {
  const params = options.params ?? DEFAULT_CHUNKER_PARAMS
  await ingestBlocks((async function * () {
    for await (const batch of chunkBatches(source, params)) {
      yield { blocks: batch.map((piece): [CID, Uint8Array] => [chunkCid(piece), piece]), release: () => {} }
    }
  })(), options)
}

/**
 * Store chunks that were already cut and hashed (by the chunking worker), new ones only;
 * returns what `batches` returns at its end. Each batch is released once stored.
 */
export async function ingestBlocks<R> (batches: AsyncGenerator<ChunkedBatch, R>, options: IngestOptions): Promise<R> {
  const { store, stats, signal } = options
  while (true) {
    const next = await batches.next()
    if (next.done === true) return next.value
    signal?.throwIfAborted()
    const { blocks, release } = next.value
    const lengths = blocks.map(([, bytes]) => bytes.length)
    let wrote: boolean[]
    try {
      wrote = store.putMany !== undefined
        ? await store.putMany(blocks)
        : await Promise.all(blocks.map(async ([cid, bytes]) => await store.put(cid, bytes)))
    } finally {
      release()
    }
    for (let i = 0; i < blocks.length; i++) {
      stats.bytes += lengths[i]
      stats.chunks++
      if (wrote[i]) { stats.newBytes += lengths[i]; stats.newChunks++ }
      const added = options.onChunk([blocks[i][0], lengths[i]])
      if (added !== undefined) await added
    }
    options.onProgress?.(stats)
  }
}
