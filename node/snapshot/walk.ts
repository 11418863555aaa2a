/**
 * Every block a manifest references — its nodes and its chunks — with the path each
 * chunk belongs to. Used by gc (what is live), verify (what a bad chunk breaks) and
 * sync (what is missing); and the blocks a version adds over an earlier one (for the
 * reverse index, which holds the earlier one's already).
 */
import type { CID } from '../../protocol/cid.ts'
import { decodeChunkRef, decodeEntry, decodeRoot, type Entry } from '../../protocol/manifest.ts'
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
      if (e.kind === 'dir') {
        yield * folder(get, e.dir!, path)
      } else if (e.kind === 'file') {
        if (e.data !== undefined) for (const [c, size] of e.data) yield { cid: c, type: 'chunk', path, size }
        else yield * chunkList(get, e.dataTree!, path)
      }
    }
  }
}

/**
 * The blocks of `root` that `parentRoot` does not reference, give or take: the root, the
 * list nodes of each folder that changed (not those it shares with the parent's folder at
 * the same path), and the chunks or chunk lists of each file whose data differs from the
 * parent's file at that path. Never fewer: a block left out is one the parent references.
 * Unchanged folders are not read, and a changed folder costs its nodes and the parent's,
 * not a walk of every chunk in it: indexing a v2 that edits a few files in each folder of
 * a large tree costs about the size of the edit.
 */
export async function * changedBlocks (get: BlockGetter, root: CID, parentRoot: CID): AsyncGenerator<ManifestBlock> {
  yield { cid: root, type: 'node' }
  const [manifest, parent] = [decodeRoot(await get(root)), decodeRoot(await get(parentRoot))]
  if (manifest.list.equals(parent.list) && manifest.kind === parent.kind) return
  if (manifest.kind === 'image') {
    yield * chunkList(get, manifest.list, '')
    return
  }
  yield * changedFolder(get, manifest.list, parent.kind === 'tree' ? parent.list : undefined, '')
}

async function * changedFolder (get: BlockGetter, list: CID, parentList: CID | undefined, prefix: string): AsyncGenerator<ManifestBlock> {
  if (parentList?.equals(list) === true) return
  const sharedNodes = new Set<string>()
  const before = new Map<string, Entry>()
  if (parentList !== undefined) {
    for await (const { cid, leaf } of listNodes(get, parentList, decodeEntry)) {
      sharedNodes.add(cid.toString())
      for (const e of leaf ?? []) before.set(e.name, e)
    }
  }
  // a node the parent's folder has holds the same entries: all referenced by the parent
  for await (const { cid, leaf } of listNodes(get, list, decodeEntry, cid => sharedNodes.has(cid.toString()))) {
    yield { cid, type: 'node' }
    for (const e of leaf ?? []) {
      const path = prefix === '' ? e.name : `${prefix}/${e.name}`
      const old = before.get(e.name)
      if (e.kind === 'dir') {
        yield * changedFolder(get, e.dir!, old?.kind === 'dir' ? old.dir : undefined, path)
      } else if (e.kind === 'file' && !(old?.kind === 'file' && sameData(old, e))) {
        if (e.data !== undefined) for (const [c, size] of e.data) yield { cid: c, type: 'chunk', path, size }
        else yield * chunkList(get, e.dataTree!, path)
      }
    }
  }
}

function sameData (a: Entry, b: Entry): boolean {
  if (a.dataTree !== undefined || b.dataTree !== undefined) return a.dataTree !== undefined && b.dataTree !== undefined && a.dataTree.equals(b.dataTree)
  return a.data!.length === b.data!.length && a.data!.every(([cid, size], i) => size === b.data![i][1] && cid.equals(b.data![i][0]))
}
