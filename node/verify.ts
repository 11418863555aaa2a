/**
 * `rok verify`: read back every block in the store and check it against its CID, check
 * every pack's table of contents against the index, then walk every version's manifest
 * and name, for each corrupt or missing block, every version and path it breaks.
 * Reports; changes no block and no version. A damaged table of contents is dropped: it is
 * only a shortcut to what the index says, and one that is wrong makes this node serve
 * peers bytes they reject.
 */
import { bytesMatchCid, cidFromBytes, type CID } from '../protocol/cid.ts'
import { decodeVersionRecord } from '../protocol/record.ts'
import type { Buckets } from './buckets/index.ts'
import { manifestBlocks } from './snapshot/index.ts'
import type { DiskBlockStore } from './store/index.ts'
import { packFileName, packTableEntries } from './store/pack-format.ts'

export interface Damage {
  cid: string
  /** `table`: a pack's table of contents (cid names the pack file, or the block it misplaces) */
  problem: 'corrupt' | 'missing' | 'unreadable' | 'table'
  detail?: string
  /** Versions and paths this block breaks. */
  affects: Array<{ bucket: string, seq: number, path: string }>
}

export interface VerifyReport {
  ok: boolean
  blocks: number
  bytes: number
  versions: number
  damaged: Damage[]
}

export interface VerifyOptions {
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all'>
  signal?: AbortSignal
  onProgress?: (p: { blocks: number, bytes: number }) => void
}

const MAX_AFFECTS = 1000

export async function verifyStore (options: VerifyOptions): Promise<VerifyReport> {
  const { store, signal } = options
  const damaged = new Map<string, Damage>()
  let blocks = 0
  let bytes = 0
  for await (const { cid, location } of store.blocks()) {
    signal?.throwIfAborted()
    try {
      const data = await store.readAt(location, cid)
      if (!bytesMatchCid(cid, data)) damaged.set(cid.toString(), { cid: cid.toString(), problem: 'corrupt', affects: [] })
    } catch (err) {
      damaged.set(cid.toString(), { cid: cid.toString(), problem: 'unreadable', detail: (err as Error).message, affects: [] })
    }
    blocks++
    bytes += location.length
    options.onProgress?.({ blocks, bytes })
  }
  for await (const { pack, table } of store.packTables()) {
    signal?.throwIfAborted()
    const bad = await checkPackTable(store, pack, table)
    if (bad === undefined) continue
    // gc removed the pack (and its table first) while it was being checked: nothing is wrong
    const now = await store.packTable(pack)
    if (now === undefined || Buffer.compare(now, table) !== 0) continue
    await store.dropPackTable(pack)
    damaged.set(bad.cid, { ...bad, problem: 'table', detail: `${bad.detail}; the table was dropped (this node now finds the pack's blocks through the index)`, affects: [] })
  }
  let versions = 0
  for await (const v of options.buckets.all()) {
    versions++
    const note = (cid: CID, path: string, problem: Damage['problem']): void => {
      const key = cid.toString()
      const d = damaged.get(key) ?? { cid: key, problem, affects: [] }
      damaged.set(key, d)
      if (d.affects.length < MAX_AFFECTS) d.affects.push({ bucket: v.bucket, seq: v.seq, path })
    }
    const get = async (cid: CID): Promise<Uint8Array> => await store.get(cid)
    let record
    try {
      record = await decodeVersionRecord(await get(v.cid))
    } catch {
      note(v.cid, '(version record)', damaged.has(v.cid.toString()) ? damaged.get(v.cid.toString())!.problem : 'missing')
      continue
    }
    try {
      for await (const block of manifestBlocks(get, record.record.root)) {
        const key = block.cid.toString()
        if (damaged.has(key)) { note(block.cid, block.path ?? '(manifest)', damaged.get(key)!.problem); continue }
        if (block.type === 'chunk' && !(await store.has(block.cid))) note(block.cid, block.path ?? '', 'missing')
      }
    } catch (err) {
      const cid = (err as { details?: { cid?: string } }).details?.cid
      const key = cid ?? record.record.root.toString()
      const d = damaged.get(key) ?? { cid: key, problem: 'missing' as const, detail: (err as Error).message, affects: [] }
      damaged.set(key, d)
      d.affects.push({ bucket: v.bucket, seq: v.seq, path: '(manifest: the rest of this version cannot be read)' })
    }
  }
  const list = [...damaged.values()]
  return { ok: list.length === 0, blocks, bytes, versions, damaged: list }
}

/**
 * What is wrong with pack `pack`'s table of contents, if anything. A block the index puts
 * in this pack must be where the table says. A block the index puts elsewhere or no longer
 * has (gc moved or dropped it) is still served from where the table says, so its bytes
 * there must match its CID.
 */
async function checkPackTable (store: DiskBlockStore, pack: number, table: Uint8Array): Promise<{ cid: string, detail: string } | undefined> {
  const name = packFileName(pack)
  const entries = packTableEntries(table, pack)
  if (entries === undefined) return { cid: name, detail: `${name}'s table of contents is malformed` }
  const indexed = await store.indexedLocations(entries.map(e => e.cidBytes))
  for (const [i, { cidBytes, location }] of entries.entries()) {
    let cid: CID
    try {
      cid = cidFromBytes(cidBytes)
    } catch {
      return { cid: name, detail: `${name}'s table of contents lists a block by a malformed CID` }
    }
    const at = `${name}'s table of contents puts ${cid.toString()} at offset ${location.offset} (${location.length} bytes)`
    const known = indexed[i]
    if (known?.pack === pack) {
      if (known.offset !== location.offset || known.length !== location.length) return { cid: cid.toString(), detail: `${at}, the index at offset ${known.offset} (${known.length} bytes)` }
      continue
    }
    let bytes: Uint8Array
    try {
      bytes = await store.readAt(location, cid)
    } catch (err) {
      return { cid: cid.toString(), detail: `${at}, which cannot be read: ${(err as Error).message}` }
    }
    if (!bytesMatchCid(cid, bytes)) return { cid: cid.toString(), detail: `${at}, where other bytes lie` }
  }
  return undefined
}
