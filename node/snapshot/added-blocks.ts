/**
 * The blocks a snapshot stores, recorded on the way. Every block a version holds that its
 * parent does not is one the snapshot produced and stored (reused files and folders keep
 * the parent's blocks), so this list — with harmless repeats of blocks both share — can
 * stand in for walking the changed folders' lists of both versions again afterwards
 * (`changedBlocks`), which cost a small-change v2 of a large tree a fifth of its time.
 * Only up to `cap` blocks are kept, so a large first version keeps memory flat; past it
 * the list is dropped and the caller walks as before.
 */
import type { CID } from '../../protocol/cid.ts'
import type { BlockStore } from '../store/types.ts'

export interface AddedBlocks {
  /** Put through this store to record. */
  store: Pick<BlockStore, 'put' | 'putMany'>
  /** The blocks stored so far, or undefined once more than `cap` were. */
  blocks: () => CID[] | undefined
}

/** Enough for a tree v2 that changes thousands of files; ~5 MB at most. */
export const ADDED_BLOCKS_CAP = 32_768

export function recordAddedBlocks (store: Pick<BlockStore, 'put' | 'putMany'>, cap: number = ADDED_BLOCKS_CAP): AddedBlocks {
  let blocks: CID[] | undefined = []
  const note = (cid: CID): void => {
    if (blocks === undefined) return
    if (blocks.length >= cap) blocks = undefined
    else blocks.push(cid)
  }
  const putMany = store.putMany
  return {
    store: {
      put: async (cid, bytes, options) => { note(cid); return await store.put(cid, bytes, options) },
      putMany: putMany === undefined
        ? undefined
        : async (batch, options) => { for (const [cid] of batch) note(cid); return await putMany.call(store, batch, options) }
    },
    blocks: () => blocks
  }
}
