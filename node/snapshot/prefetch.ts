/**
 * Read ahead in batches: gather refs until a batch holds `batchBytes`, fetch the batch in
 * one call (`getMany`: one index round-trip, neighbouring blocks read together) while the
 * previous batch is being written, and yield blocks strictly in order. Memory is bounded
 * by two batches.
 */
import type { CID } from '../../protocol/cid.ts'
import type { BlockStore } from '../store/types.ts'

export const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024

export type BlockReader = Pick<BlockStore, 'get' | 'getMany'>

/** `cids`' blocks in one store call when the store can (one index round trip, neighbours read together). */
export async function readBlocks (store: BlockReader, cids: CID[], signal?: AbortSignal): Promise<Uint8Array[]> {
  if (store.getMany !== undefined) return await store.getMany(cids, { signal })
  return await Promise.all(cids.map(async cid => await store.get(cid, { signal })))
}

export async function * blocksInOrder<T extends [CID, number]> (refs: AsyncIterable<T>, store: BlockReader, signal?: AbortSignal, batchBytes = DEFAULT_BATCH_BYTES): AsyncGenerator<[T, Uint8Array]> {
  let batch: T[] = []
  let bytes = 0
  let inFlight: { refs: T[], blocks: Promise<Uint8Array[]> } | undefined
  const start = (): { refs: T[], blocks: Promise<Uint8Array[]> } => {
    const refsOfBatch = batch
    const blocks = readBlocks(store, refsOfBatch.map(r => r[0]), signal)
    blocks.catch(() => {}) // raised in order when its turn comes
    batch = []
    bytes = 0
    return { refs: refsOfBatch, blocks }
  }
  for await (const ref of refs) {
    batch.push(ref)
    bytes += ref[1]
    if (bytes < batchBytes) continue
    const next = start()
    if (inFlight !== undefined) {
      const blocks = await inFlight.blocks
      for (let i = 0; i < blocks.length; i++) yield [inFlight.refs[i], blocks[i]]
    }
    inFlight = next
  }
  const last = batch.length > 0 ? start() : undefined
  for (const b of [inFlight, last]) {
    if (b === undefined) continue
    const blocks = await b.blocks
    for (let i = 0; i < blocks.length; i++) yield [b.refs[i], blocks[i]]
  }
}
