/**
 * `rok verify`: read back every block in the store and check it against its CID, check
 * every pack's table of contents against the index, then walk every version's manifest
 * and name, for each corrupt or missing block, every version and path it breaks.
 * Reports; changes no block and no version. A damaged table of contents is dropped: it is
 * only a shortcut to what the index says, and one that is wrong makes this node serve
 * peers bytes they reject.
 *
 * With `repair`, what is damaged is also made fetchable again: corrupt and unreadable
 * blocks leave the index (the store then lacks them, so nothing serves or restores their
 * bytes, and a sync fetches them), and every version they or missing blocks break is
 * marked damaged for its bucket, so the bucket's next sync heals it from peers.
 */
import { bytesMatchCid, cidFromBytes, type CID } from '../protocol/cid.ts'
import { decodeVersionRecord } from '../protocol/record.ts'
import type { Buckets } from './buckets/index.ts'
import { manifestBlocks } from './snapshot/index.ts'
import type { DiskBlockStore } from './store/index.ts'
import type { RefIndex } from './sync/refs.ts'
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
  /** With `repair`: what was done so that syncs fetch the damage again. */
  repaired?: {
    /** Corrupt or unreadable blocks taken out of the index. */
    unindexed: number
    /** Versions marked damaged, healed by their bucket's next sync. */
    versions: Array<{ bucket: string, seq: number }>
  }
}

export interface VerifyOptions {
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all'>
  /** Unindex bad blocks and mark the versions they break for healing (see above). */
  repair?: Pick<RefIndex, 'markDamaged'>
  signal?: AbortSignal
  onProgress?: (p: { blocks: number, bytes: number }) => void
}

const MAX_AFFECTS = 1000

export async function verifyStore (options: VerifyOptions): Promise<VerifyReport> {
  const { store, signal } = options
  const damaged = new Map<string, Damage>()
  // corrupt or unreadable blocks, and the packs holding them, whose tables would serve them (see repair)
  const bad: CID[] = []
  const badPacks = new Set<number>()
  let blocks = 0
  let bytes = 0
  for await (const { cid, location } of store.blocks()) {
    signal?.throwIfAborted()
    try {
      const data = await store.readAt(location, cid)
      if (!bytesMatchCid(cid, data)) {
        damaged.set(cid.toString(), { cid: cid.toString(), problem: 'corrupt', affects: [] })
        bad.push(cid)
        badPacks.add(location.pack)
      }
    } catch (err) {
      damaged.set(cid.toString(), { cid: cid.toString(), problem: 'unreadable', detail: (err as Error).message, affects: [] })
      bad.push(cid)
      badPacks.add(location.pack)
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
  // every version something breaks, not only the first MAX_AFFECTS per block
  const broken = new Map<string, { bucket: string, seq: number, cid: CID }>()
  for await (const v of options.buckets.all()) {
    versions++
    const note = (cid: CID, path: string, problem: Damage['problem']): void => {
      const key = cid.toString()
      const d = damaged.get(key) ?? { cid: key, problem, affects: [] }
      damaged.set(key, d)
      if (d.affects.length < MAX_AFFECTS) d.affects.push({ bucket: v.bucket, seq: v.seq, path })
      broken.set(`${v.bucket}@${v.seq}`, v)
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
      broken.set(`${v.bucket}@${v.seq}`, v)
    }
  }
  const list = [...damaged.values()]
  const report: VerifyReport = { ok: list.length === 0, blocks, bytes, versions, damaged: list }
  if (options.repair !== undefined) report.repaired = await repair(store, options.repair, bad, badPacks, [...broken.values()])
  return report
}

async function repair (store: DiskBlockStore, refs: Pick<RefIndex, 'markDamaged'>, bad: CID[], badPacks: Set<number>, broken: Array<{ bucket: string, seq: number, cid: CID }>): Promise<NonNullable<VerifyReport['repaired']>> {
  // a table lists what its pack holds, unindexed or not: the serving side would still find
  // the bad copy there, so those packs' blocks are found through the index alone
  for (const pack of badPacks) await store.dropPackTable(pack)
  // the index before the marks: once a version is marked, a sync may start healing it
  if (bad.length > 0) await store.deleteIndexEntries(bad)
  for (const v of broken) await refs.markDamaged(v.bucket, v.seq, v.cid)
  return { unindexed: bad.length, versions: broken.map(v => ({ bucket: v.bucket, seq: v.seq })) }
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
