/**
 * Local garbage collection in two phases, with no lock on snapshots or syncs.
 *
 * Every run: (1) mark what the retained versions reference; (2) scan the index — an
 * unreferenced block becomes a candidate (durably, with the time), a candidate found
 * referenced again stops being one; (3) sweep the candidates that are due (see
 * candidates.ts: grace passed, not rescued, no older write still running) — their index
 * entries go in one atomic batch inside the store's write queue; (4) delete packs with
 * nothing indexed and rewrite packs that are mostly dead.
 *
 * Crash-safe at every step: candidates are forgotten before their index entries are
 * deleted; a rewritten pack's copies are durable and indexed before the old pack is
 * removed; a pack is removed only when no index entry points into it. With a grace of 0
 * (tests, or a home no daemon is using) one run marks and sweeps at once.
 */
import { failpoint } from '../failpoint.ts'
import type { CID } from '../../protocol/cid.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { ProtocolErrorCode, RokError } from '../../protocol/errors.ts'
import { decodeChunkRef, decodeEntry, decodeListNode, decodeRoot } from '../../protocol/manifest.ts'
import type { Buckets } from '../buckets/index.ts'
import type { DiskBlockStore, StoredBlock } from '../store/index.ts'
import type { GcCandidates } from './candidates.ts'
import { PolicyErrorCode } from './errors.ts'

export const DEFAULT_GRACE_MS = 60 * 60 * 1000
export const DEFAULT_REWRITE_BELOW = 0.5
/** Candidates deleted per atomic index batch. */
const SWEEP_SLICE = 512

export interface GcReport {
  dryRun: boolean
  graceSeconds: number
  liveBlocks: number
  liveBytes: number
  /** Blocks no retained version references (candidates or not yet). */
  deadBlocks: number
  deadBytes: number
  /** Newly marked as candidates by this run. */
  markedBlocks: number
  /** Candidates found referenced again (by a new version) or rescued since the last run. */
  rescuedBlocks: number
  /** Candidates still inside their grace period (or protected by a running write). */
  waitingBlocks: number
  waitingBytes: number
  /** Deleted by this run (on a dry run: would be). */
  sweptBlocks: number
  sweptBytes: number
  packsRemoved: number
  packsRewritten: number
  /** Bytes on disk in packs before and after (on a dry run: the estimate after). */
  packBytesBefore: number
  packBytesAfter: number
  seconds: number
  /** The object-storage tier's sweep, when the node has a tier. */
  tier?: TierGcReport
}

export interface GcProgress {
  phase: 'mark' | 'scan' | 'sweep' | 'compact'
  blocks: number
  bytes: number
}

export interface GcOptions {
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all'>
  candidates: GcCandidates
  dryRun?: boolean
  /** Candidates younger than this are kept. @default DEFAULT_GRACE_MS (1 h) */
  graceMs?: number
  /** Rewrite a pack when less than this fraction of its bytes is kept. @default 0.5 */
  rewriteBelow?: number
  now?: () => number
  signal?: AbortSignal
  onProgress?: (p: GcProgress) => void
  /** The object-storage tier's own two-phase sweep, given the same live set (when a tier is configured). */
  tierSweep?: (live: Set<string>, options: { signal?: AbortSignal, dryRun: boolean, graceMs: number }) => Promise<TierGcReport>
}

/** What the tier's sweep did (node/tier/sweep.ts SweepReport, the parts a user reads). */
export interface TierGcReport {
  packsMarked: number
  packsDeleted: number
  bytesDeleted: number
  packsRewritten: number
  packsRescued: number
  candidatesPending: number
  versionsRemoved: number
}

interface PackUsage {
  kept: StoredBlock[]
  keptBytes: number
}

export async function collectGarbage (options: GcOptions): Promise<GcReport> {
  const { candidates } = options
  if (!candidates.acquire()) throw new RokError(PolicyErrorCode.GC_RUNNING, 'a gc is already running on this node; wait for it to finish')
  try {
    return await runGc(options)
  } finally {
    candidates.release()
  }
}

async function runGc (options: GcOptions): Promise<GcReport> {
  const { store, candidates, signal } = options
  const now = options.now ?? Date.now
  const dryRun = options.dryRun === true
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const rewriteBelow = options.rewriteBelow ?? DEFAULT_REWRITE_BELOW
  const started = performance.now()
  const progress = (phase: GcProgress['phase'], blocks: number, bytes: number): void => options.onProgress?.({ phase, blocks, bytes })

  // Packs from here on were still being written (or sealed) when the scan started, so it
  // may miss some of their blocks: never judged by it, even once they are closed.
  const packLimit = store.packIdLimit()
  const live = await markLive(store, options.buckets, signal, n => progress('mark', n, 0))
  const markedAt = now()

  const usage = new Map<number, PackUsage>()
  const keep = (block: StoredBlock): void => {
    const u = usage.get(block.location.pack) ?? { kept: [], keptBytes: 0 }
    u.kept.push(block)
    u.keptBytes += block.location.length
    usage.set(block.location.pack, u)
  }
  const fresh: CID[] = []
  const referencedAgain: CID[] = []
  const due: Array<{ block: StoredBlock, markedAt: number }> = []
  let liveBytes = 0
  let deadBlocks = 0
  let deadBytes = 0
  let waitingBytes = 0
  let waitingBlocks = 0
  let scanned = 0
  const oldestWrite = candidates.oldestLease()
  const isDue = (at: number): boolean => at + graceMs <= markedAt && at < oldestWrite
  for await (const block of store.blocks()) {
    if (++scanned % 4096 === 0) { signal?.throwIfAborted(); progress('scan', scanned, 0) }
    const key = block.cid.toString()
    const length = block.location.length
    const at = candidates.markedAt(block.cid)
    if (live.has(key)) {
      if (at !== undefined) referencedAgain.push(block.cid)
      liveBytes += length
      keep(block)
      continue
    }
    deadBlocks++
    deadBytes += length
    const since = at ?? markedAt
    if (at === undefined) fresh.push(block.cid)
    if (isDue(since)) due.push({ block, markedAt: since })
    else { keep(block); waitingBlocks++; waitingBytes += length }
  }

  let sweptBlocks = due.length
  let sweptBytes = due.reduce((a, d) => a + d.block.location.length, 0)
  if (!dryRun) {
    signal?.throwIfAborted()
    await candidates.unmark(referencedAgain)
    await candidates.mark(fresh, markedAt)
    // In slices: each holds the store's write queue only briefly, so puts go on during a big sweep.
    sweptBlocks = 0
    sweptBytes = 0
    for (let i = 0; i < due.length; i += SWEEP_SLICE) {
      signal?.throwIfAborted()
      const slice = due.slice(i, i + SWEEP_SLICE)
      let deleted: CID[]
      try {
        deleted = await store.deleteIndexEntries(async () => await candidates.beginDelete(slice.map(d => ({ cid: d.block.cid, markedAt: d.markedAt }))))
      } finally {
        candidates.endDelete()
      }
      // A due block rescued in the meantime stays, and so does its place in its pack.
      const gone = new Set(deleted.map(c => c.toString()))
      for (const d of slice) {
        if (gone.has(d.block.cid.toString())) { sweptBlocks++; sweptBytes += d.block.location.length } else keep(d.block)
      }
      progress('sweep', sweptBlocks, sweptBytes)
      failpoint('gc-sweep-slice')
    }
  }

  const packs = (await store.packIds()).filter(id => id < packLimit)
  const sizes = new Map<number, number>()
  for (const id of packs) sizes.set(id, await store.packSize(id))
  const packBytesBefore = [...sizes.values()].reduce((a, b) => a + b, 0)
  const empty = packs.filter(id => usage.get(id) === undefined)
  const sparse = packs.filter(id => {
    const u = usage.get(id)
    return u !== undefined && u.keptBytes < rewriteBelow * sizes.get(id)!
  })

  let packBytesAfter = packBytesBefore
  for (const id of empty) packBytesAfter -= sizes.get(id)!
  for (const id of sparse) packBytesAfter -= sizes.get(id)! - usage.get(id)!.keptBytes
  if (!dryRun) {
    let moved = 0
    for (const id of sparse) {
      signal?.throwIfAborted()
      await store.moveBlocks(usage.get(id)!.kept)
      await store.removePack(id)
      moved += usage.get(id)!.keptBytes
      progress('compact', 0, moved)
    }
    for (const id of empty) await store.removePack(id)
    await store.flush()
    packBytesAfter = 0
    for (const id of await store.packIds()) packBytesAfter += await store.packSize(id)
  }
  const tier = await options.tierSweep?.(live, { signal, dryRun, graceMs })
  return {
    dryRun,
    graceSeconds: graceMs / 1000,
    liveBlocks: live.size,
    liveBytes,
    deadBlocks,
    deadBytes,
    markedBlocks: fresh.length,
    rescuedBlocks: referencedAgain.length + (dryRun ? candidates.rescued : candidates.takeRescued()),
    waitingBlocks,
    waitingBytes,
    sweptBlocks,
    sweptBytes,
    packsRemoved: empty.length,
    packsRewritten: sparse.length,
    packBytesBefore,
    packBytesAfter,
    seconds: (performance.now() - started) / 1000,
    ...(tier !== undefined ? { tier } : {})
  }
}

/**
 * Every block reachable from a version record: records, manifest nodes and chunks. The
 * walk goes level by level and reads each level's nodes a batch at a time, in parallel;
 * a node already marked was walked with everything
 * under it, so versions sharing most of their tree (the usual case) cost only their
 * differences.
 */
export async function markLive (store: Pick<DiskBlockStore, 'get'>, buckets: Pick<Buckets, 'all'>, signal?: AbortSignal, onBlocks?: (n: number) => void): Promise<Set<string>> {
  const live = new Set<string>()
  let reported = 0
  const add = (cid: CID): boolean => {
    const key = cid.toString()
    if (live.has(key)) return false
    live.add(key)
    if (live.size - reported >= 4096) { reported = live.size; onBlocks?.(live.size) }
    return true
  }
  const read = async (cids: CID[], each: (cid: CID, bytes: Uint8Array) => Promise<void> | void): Promise<void> => {
    for (let i = 0; i < cids.length; i += MARK_BATCH) {
      signal?.throwIfAborted()
      const batch = cids.slice(i, i + MARK_BATCH)
      // separate reads in parallel, not getMany: manifest nodes sit between chunks in the packs,
      // and getMany would read the chunk bytes between them too
      const blocks = await Promise.all(batch.map(async c => await store.get(c, { signal })))
      for (let k = 0; k < batch.length; k++) await each(batch[k], blocks[k])
      failpoint('gc-mark-read')
    }
  }
  const records: CID[] = []
  for await (const v of buckets.all()) if (add(v.cid)) records.push(v.cid)
  const roots: CID[] = []
  await read(records, async (_cid, bytes) => {
    const { record } = await decodeVersionRecord(bytes)
    if (add(record.root)) roots.push(record.root)
  })
  let level: Array<{ cid: CID, kind: 'entries' | 'chunks' }> = []
  const visit = (cid: CID, kind: 'entries' | 'chunks'): void => { if (add(cid)) level.push({ cid, kind }) }
  await read(roots, (_cid, bytes) => {
    const manifest = decodeRoot(bytes)
    visit(manifest.list, manifest.kind === 'image' ? 'chunks' : 'entries')
  })
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > MAX_LIST_DEPTH) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, 'invalid manifest: tree too deep')
    const current = level
    level = []
    const kinds = new Map(current.map(n => [n.cid.toString(), n.kind]))
    await read(current.map(n => n.cid), (cid, bytes) => {
      if (kinds.get(cid.toString()) === 'chunks') {
        const node = decodeListNode(bytes, decodeChunkRef)
        if ('leaf' in node) for (const [c] of node.leaf) add(c)
        else for (const [child] of node.branch) visit(child, 'chunks')
        return
      }
      const node = decodeListNode(bytes, decodeEntry)
      if ('branch' in node) {
        for (const [child] of node.branch) visit(child, 'entries')
        return
      }
      for (const e of node.leaf) {
        if (e.kind === 'dir') visit(e.dir!, 'entries')
        else if (e.kind === 'file') {
          if (e.data !== undefined) for (const [c] of e.data) add(c)
          else visit(e.dataTree!, 'chunks')
        }
      }
    })
  }
  return live
}

/** Manifest nodes read per batch by the mark. */
const MARK_BATCH = 256
/** Folder nesting plus list-tree levels a manifest may have (protocol bounds are far below). */
const MAX_LIST_DEPTH = 4096
