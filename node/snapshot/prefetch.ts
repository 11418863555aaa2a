/**
 * Read ahead in batches: gather refs until a batch holds `batchBytes`, fetch the batch in
 * one call (`getMany`: one index round-trip, neighbouring blocks read together) while the
 * previous batch is being written, and yield batches strictly in order. Memory is bounded
 * by two batches (plus what the consumer keeps).
 */
import type { CID } from '../../protocol/cid.ts'
import type { BlockStore } from '../store/types.ts'

export const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024

export type BlockReader = Pick<BlockStore, 'get' | 'getMany' | 'getManyUnverified'>

/** `cids`' blocks in one store call when the store can (one index round trip, neighbours read together). */
export async function readBlocks (store: BlockReader, cids: CID[], signal?: AbortSignal): Promise<Uint8Array[]> {
  if (store.getMany !== undefined) return await store.getMany(cids, { signal })
  return await Promise.all(cids.map(async cid => await store.get(cid, { signal })))
}

/** A batch of refs and their blocks, in the order of the refs. */
export interface ReadBatch<T> { refs: T[], blocks: Uint8Array[] }

export async function * batchesInOrder<T extends [CID, number]> (refs: AsyncIterable<T>, read: (cids: CID[]) => Promise<Uint8Array[]>, batchBytes = DEFAULT_BATCH_BYTES): AsyncGenerator<ReadBatch<T>> {
  let batch: T[] = []
  let bytes = 0
  let inFlight: { refs: T[], blocks: Promise<Uint8Array[]> } | undefined
  const start = (): { refs: T[], blocks: Promise<Uint8Array[]> } => {
    const refsOfBatch = batch
    const blocks = read(refsOfBatch.map(r => r[0]))
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
    if (inFlight !== undefined) yield { refs: inFlight.refs, blocks: await inFlight.blocks }
    inFlight = next
  }
  const last = batch.length > 0 ? start() : undefined
  for (const b of [inFlight, last]) {
    if (b !== undefined) yield { refs: b.refs, blocks: await b.blocks }
  }
}
