/**
 * Diff two snapshots: paths added, removed and changed, and how many bytes differ.
 * Sub-folders whose list CIDs are equal are skipped without being read — the Merkle
 * tree makes a diff of two nearly equal versions cost about the size of the change.
 * "Bytes that differ" for a changed file are the bytes of its chunks that the other
 * version's file does not have.
 */
import type { CID } from '../../protocol/cid.ts'
import { compareNames, decodeChunkRef, decodeEntry, decodeRoot, sameMtime, type ChunkRef, type Entry } from '../../protocol/manifest.ts'
import type { BlockStore } from '../store/types.ts'
import { walkList, type BlockGetter } from './list-tree.ts'

export type ChangeKind = 'added' | 'removed' | 'changed'

export interface Change {
  kind: ChangeKind
  path: string
  /** Entry kind in the newer version (or the older one for removals). */
  type: Entry['kind']
  /** Bytes of the newer version that differ (added: all of them; removed: 0). */
  bytes: number
  /** What changed for `changed`: content, mode, mtime, type, target. */
  what?: string[]
}

export interface DiffSummary {
  added: number
  removed: number
  changed: number
  bytesDiffering: number
}

export interface DiffOptions {
  store: Pick<BlockStore, 'get'>
  signal?: AbortSignal
}

export async function * diffManifests (a: CID, b: CID, options: DiffOptions): AsyncGenerator<Change> {
  const get: BlockGetter = async cid => await options.store.get(cid, { signal: options.signal })
  const [ra, rb] = [decodeRoot(await get(a)), decodeRoot(await get(b))]
  if (ra.kind === 'image' || rb.kind === 'image') {
    if (ra.list.equals(rb.list) && ra.size === rb.size) return
    const bytes = await chunkDelta(get, listRefs(get, ra.list), listRefs(get, rb.list))
    yield { kind: 'changed', path: '', type: 'file', bytes, what: ['content'] }
    return
  }
  yield * diffFolders(get, ra.list, rb.list, '')
}

function listRefs (get: BlockGetter, cid: CID): AsyncIterable<ChunkRef> {
  return walkList(get, cid, decodeChunkRef)
}

function fileRefs (get: BlockGetter, e: Entry): AsyncIterable<ChunkRef> {
  return e.data !== undefined ? (async function * () { yield * e.data! })() : listRefs(get, e.dataTree!)
}

async function chunkDelta (get: BlockGetter, older: AsyncIterable<ChunkRef>, newer: AsyncIterable<ChunkRef>): Promise<number> {
  const seen = new Set<string>()
  for await (const [cid] of older) seen.add(cid.toString())
  let bytes = 0
  for await (const [cid, size] of newer) if (!seen.has(cid.toString())) bytes += size
  return bytes
}

async function * entries (get: BlockGetter, list: CID | undefined): AsyncGenerator<Entry> {
  if (list !== undefined) yield * walkList(get, list, decodeEntry)
}

async function * diffFolders (get: BlockGetter, a: CID | undefined, b: CID | undefined, prefix: string): AsyncGenerator<Change> {
  if (a !== undefined && b !== undefined && a.equals(b)) return
  const ia = entries(get, a)
  const ib = entries(get, b)
  let ea = await ia.next()
  let eb = await ib.next()
  while (ea.done !== true || eb.done !== true) {
    const order = ea.done === true ? 1 : eb.done === true ? -1 : compareNames(ea.value.name, eb.value.name)
    if (order < 0) {
      yield * removed(get, ea.value!, prefix)
      ea = await ia.next()
    } else if (order > 0) {
      yield * added(get, eb.value!, prefix)
      eb = await ib.next()
    } else {
      yield * changed(get, ea.value!, eb.value!, prefix)
      ea = await ia.next()
      eb = await ib.next()
    }
  }
}

function pathOf (prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`
}

async function * added (get: BlockGetter, e: Entry, prefix: string): AsyncGenerator<Change> {
  const path = pathOf(prefix, e.name)
  yield { kind: 'added', path, type: e.kind, bytes: e.kind === 'file' ? e.size : 0 }
  if (e.kind === 'dir') yield * diffFolders(get, undefined, e.dir, path)
}

async function * removed (get: BlockGetter, e: Entry, prefix: string): AsyncGenerator<Change> {
  const path = pathOf(prefix, e.name)
  yield { kind: 'removed', path, type: e.kind, bytes: 0 }
  if (e.kind === 'dir') yield * diffFolders(get, e.dir, undefined, path)
}

async function * changed (get: BlockGetter, a: Entry, b: Entry, prefix: string): AsyncGenerator<Change> {
  const path = pathOf(prefix, b.name)
  if (a.kind !== b.kind) {
    yield * removed(get, a, prefix)
    yield * added(get, b, prefix)
    return
  }
  const what: string[] = []
  if (a.mode !== b.mode) what.push('mode')
  if (!sameMtime(a.mtime, b.mtime)) what.push('mtime')
  if (a.target !== b.target) what.push('target')
  let bytes = 0
  if (b.kind === 'file' && !sameContent(a, b)) {
    what.push('content')
    bytes = await chunkDelta(get, fileRefs(get, a), fileRefs(get, b))
  }
  if (b.kind === 'dir') {
    // A folder's own mtime changes whenever its contents do; report it only for mode.
    if (what.includes('mode')) yield { kind: 'changed', path, type: 'dir', bytes: 0, what: ['mode'] }
    yield * diffFolders(get, a.dir, b.dir, path)
    return
  }
  if (what.length > 0) yield { kind: 'changed', path, type: b.kind, bytes, what }
}

function sameContent (a: Entry, b: Entry): boolean {
  if (a.size !== b.size) return false
  if (a.dataTree !== undefined && b.dataTree !== undefined) return a.dataTree.equals(b.dataTree)
  if (a.data !== undefined && b.data !== undefined) {
    return a.data.length === b.data.length && a.data.every(([cid], i) => cid.equals(b.data![i][0]))
  }
  return false
}

export function summarize (changes: Change[]): DiffSummary {
  const s: DiffSummary = { added: 0, removed: 0, changed: 0, bytesDiffering: 0 }
  for (const c of changes) { s[c.kind]++; s.bytesDiffering += c.bytes }
  return s
}
