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

/**
 * `skip` leaves out a folder's or a file's whole subtree (the list CID that roots it):
 * callers that already hold a subtree's blocks from another version pass it.
 */
export async function * manifestBlocks (get: BlockGetter, root: CID, skip: (list: CID) => boolean = () => false): AsyncGenerator<ManifestBlock> {
  yield { cid: root, type: 'node' }
  const manifest = decodeRoot(await get(root))
  if (manifest.kind === 'image') {
    yield * chunkList(get, manifest.list, '')
    return
  }
  yield * folder(get, manifest.list, '', skip)
}

/**
 * The CIDs that root a folder manifest's subtrees (each folder's and each large file's
 * list), read from its folder nodes only: what `skip` of manifestBlocks takes.
 */
export async function subtreeRoots (get: BlockGetter, root: CID): Promise<Set<string>> {
  const roots = new Set<string>()
  const manifest = decodeRoot(await get(root))
  if (manifest.kind === 'image') return roots
  const visit = async (list: CID): Promise<void> => {
    roots.add(list.toString())
    for await (const { leaf } of listNodes(get, list, decodeEntry)) {
      for (const e of leaf ?? []) {
        if (e.kind === 'dir') await visit(e.dir!)
        else if (e.kind === 'file' && e.dataTree !== undefined) roots.add(e.dataTree.toString())
      }
    }
  }
  await visit(manifest.list)
  return roots
}

async function * chunkList (get: BlockGetter, list: CID, path: string): AsyncGenerator<ManifestBlock> {
  for await (const { cid, leaf } of listNodes(get, list, decodeChunkRef)) {
    yield { cid, type: 'node' }
    for (const [c, size] of leaf ?? []) yield { cid: c, type: 'chunk', path, size }
  }
}

async function * folder (get: BlockGetter, list: CID, prefix: string, skip: (list: CID) => boolean): AsyncGenerator<ManifestBlock> {
  for await (const { cid, leaf } of listNodes(get, list, decodeEntry)) {
    yield { cid, type: 'node' }
    for (const e of leaf ?? []) {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`
      if (e.kind === 'dir') {
        if (!skip(e.dir!)) yield * folder(get, e.dir!, path, skip)
      } else if (e.kind === 'file') {
        if (e.data !== undefined) for (const [c, size] of e.data) yield { cid: c, type: 'chunk', path, size }
        else if (!skip(e.dataTree!)) yield * chunkList(get, e.dataTree!, path)
      }
    }
  }
}
