/**
 * Every block a manifest references — its nodes and its chunks — with the path each
 * chunk belongs to. Used by gc (what is live), verify (what a bad chunk breaks) and
 * sync (what is missing).
 */
import type { CID } from '../../protocol/cid.ts'
import { decodeChunkRef, decodeEntry, decodeRoot } from '../../protocol/manifest.ts'
import { listNodes, type BlockGetter } from './list-tree.ts'

export interface ManifestBlock {
  cid: CID
  /** 'node' for manifest nodes, 'chunk' for data. */
  type: 'node' | 'chunk'
  /** Path of the file a chunk belongs to ('' for an image). */
  path?: string
  size?: number
}

export async function * manifestBlocks (get: BlockGetter, root: CID): AsyncGenerator<ManifestBlock> {
  yield { cid: root, type: 'node' }
  const manifest = decodeRoot(await get(root))
  if (manifest.kind === 'image') {
    yield * chunkList(get, manifest.list, '')
    return
  }
  yield * folder(get, manifest.list, '')
}

async function * chunkList (get: BlockGetter, list: CID, path: string): AsyncGenerator<ManifestBlock> {
  for await (const { cid, leaf } of listNodes(get, list, decodeChunkRef)) {
    yield { cid, type: 'node' }
    for (const [c, size] of leaf ?? []) yield { cid: c, type: 'chunk', path, size }
  }
}

async function * folder (get: BlockGetter, list: CID, prefix: string): AsyncGenerator<ManifestBlock> {
  for await (const { cid, leaf } of listNodes(get, list, decodeEntry)) {
    yield { cid, type: 'node' }
    for (const e of leaf ?? []) {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`
      if (e.kind === 'dir') yield * folder(get, e.dir!, path)
      else if (e.kind === 'file') {
        if (e.data !== undefined) for (const [c, size] of e.data) yield { cid: c, type: 'chunk', path, size }
        else yield * chunkList(get, e.dataTree!, path)
      }
    }
  }
}
