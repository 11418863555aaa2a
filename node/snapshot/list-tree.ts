/**
 * Builds and reads the list trees of a manifest (see protocol/manifest.ts). The builder
 * streams: it holds one open node per tree level, hands each finished node to `sink`
 * and keeps nothing else, so a folder of a million entries or a file of a million chunks
 * costs a few nodes of memory.
 */
import type { CID } from '../../protocol/cid.ts'
import {
  decodeListNode, encodeNode, MAX_NODE_BYTES, type BranchLink, type EncodedNode
} from '../../protocol/manifest.ts'
import { RokError, ProtocolErrorCode } from '../../protocol/errors.ts'

export type NodeSink = (node: EncodedNode) => Promise<void>

export interface ListShape<T> {
  /** True when a leaf should end after `item` (content-defined). */
  boundary: (item: T) => boolean
  /** Rough encoded size of an item, to keep nodes under MAX_NODE_BYTES. */
  sizeOf: (item: T) => number
  toCbor: (item: T) => unknown
  /** Most items per leaf. */
  maxItems: number
}

/** Branch nodes end after a link whose CID digest has its low 6 bits zero: ~64 links. */
const BRANCH_MAX = 256
const LEAF_BYTE_BUDGET = MAX_NODE_BYTES / 4

function branchBoundary (link: BranchLink): boolean {
  const d = link[0].multihash.digest
  return (d[d.length - 2] & 63) === 0
}

interface Level {
  items: unknown[]
  count: number
  bytes: number
  encoded: number
}

export class ListTreeBuilder<T> {
  private readonly levels: Level[] = [{ items: [], count: 0, bytes: 0, encoded: 0 }]
  private readonly shape: ListShape<T>
  private readonly sink: NodeSink

  constructor (shape: ListShape<T>, sink: NodeSink) {
    this.shape = shape
    this.sink = sink
  }

  /**
   * Add one item carrying `bytes` of logical data (chunk size, file size). Returns a
   * promise only when the item ended a node, which is then being handed to the sink.
   */
  add (item: T, bytes: number): Promise<void> | undefined {
    const level = this.levels[0]
    level.items.push(this.shape.toCbor(item))
    level.count++
    level.bytes += bytes
    level.encoded += this.shape.sizeOf(item)
    if (this.shape.boundary(item) || level.items.length >= this.shape.maxItems || level.encoded >= LEAF_BYTE_BUDGET) {
      return this.close(0)
    }
    return undefined
  }

  /** Finish the tree; returns the root link [cid, items, bytes]. */
  async finish (): Promise<BranchLink> {
    let i = 0
    while (true) {
      const level = this.levels[i]
      const top = i === this.levels.length - 1
      if (top) {
        if (i > 0 && level.items.length === 1) return level.items[0] as BranchLink
        await this.close(i)
      } else if (level.items.length > 0) {
        await this.close(i)
      }
      i++
    }
  }

  private async close (i: number): Promise<void> {
    const level = this.levels[i]
    const node = encodeNode(i === 0 ? { leaf: level.items } : { branch: level.items })
    await this.sink(node)
    const link: BranchLink = [node.cid, level.count, level.bytes]
    this.levels[i] = { items: [], count: 0, bytes: 0, encoded: 0 }
    if (this.levels[i + 1] === undefined) this.levels.push({ items: [], count: 0, bytes: 0, encoded: 0 })
    const up = this.levels[i + 1]
    up.items.push(link)
    up.count += link[1]
    up.bytes += link[2]
    if (branchBoundary(link) || up.items.length >= BRANCH_MAX) await this.close(i + 1)
  }
}

export type BlockGetter = (cid: CID, options?: { signal?: AbortSignal }) => Promise<Uint8Array>

/** Walk a list tree depth-first, yielding its items in order. */
export async function * walkList<T> (get: BlockGetter, root: CID, decodeItem: (v: unknown) => T, options: { signal?: AbortSignal, maxDepth?: number } = {}): AsyncGenerator<T> {
  yield * walk(get, root, decodeItem, options.signal, 0, options.maxDepth ?? 16)
}

/**
 * Every item of a list tree, in order, handed to `each`: walkList without an async
 * generator's promises per item (a tree v2 reads every folder list of its parent).
 */
export async function forEachInList<T> (get: BlockGetter, root: CID, decodeItem: (v: unknown) => T, each: (item: T) => void, depth = 0): Promise<void> {
  if (depth > 16) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, 'invalid manifest: list tree deeper than 16 levels')
  const node = decodeListNode(await get(root), decodeItem)
  if ('leaf' in node) {
    for (const item of node.leaf) each(item)
    return
  }
  for (const [child] of node.branch) await forEachInList(get, child, decodeItem, each, depth + 1)
}

async function * walk<T> (get: BlockGetter, cid: CID, decodeItem: (v: unknown) => T, signal: AbortSignal | undefined, depth: number, maxDepth: number): AsyncGenerator<T> {
  if (depth > maxDepth) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: list tree deeper than ${maxDepth} levels`)
  signal?.throwIfAborted()
  const node = decodeListNode(await get(cid, { signal }), decodeItem)
  if ('leaf' in node) {
    yield * node.leaf
    return
  }
  for (const [child] of node.branch) yield * walk(get, child, decodeItem, signal, depth + 1, maxDepth)
}

/**
 * Every node of a list tree, depth-first, with the items of each leaf (for gc, verify and
 * sync walks). A node `skip` answers true for is left out with everything under it.
 */
export async function * listNodes<T> (get: BlockGetter, root: CID, decodeItem: (v: unknown) => T, skip: (cid: CID) => boolean = () => false, depth = 0): AsyncGenerator<{ cid: CID, leaf?: T[] }> {
  if (depth > 16) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, 'invalid manifest: list tree deeper than 16 levels')
  if (skip(root)) return
  const node = decodeListNode(await get(root), decodeItem)
  if ('leaf' in node) {
    yield { cid: root, leaf: node.leaf }
    return
  }
  yield { cid: root }
  for (const [child] of node.branch) yield * listNodes(get, child, decodeItem, skip, depth + 1)
}
