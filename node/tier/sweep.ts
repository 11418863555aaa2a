/**
 * Garbage collection of the tier, two-phase, without stopping pushes or restores.
 *
 * Mark: a pack none of whose blocks is live becomes a deletion candidate. In one atomic
 * catalog batch its block entries are removed and a candidate record (`c!`, with the
 * time and the pack's entries) is written; from then on no push can dedup against it and
 * no fetch reads from it. A pack that is mostly garbage (live bytes under REWRITE_BELOW)
 * has its live blocks copied into a new pack; one batch records the new pack, points
 * the live entries at it and marks the old pack a candidate.
 *
 * Delete: a candidate older than `graceMs` is deleted from the object store, then its
 * records are dropped. Before that, a candidate holding a block that is live again and
 * that the catalog no longer lists (a push that deduped against it just before it was
 * marked, a version that became retained again) is rescued: its entries come back and it
 * is not deleted.
 *
 * Version objects of versions whose record CID is not live are deleted first (intent `x!`
 * in the catalog, then the object, then the records), so the store never lists a version
 * whose packs are gone.
 *
 * Packs and versions this node only found in the store (written by another node sharing
 * the prefix, and pulled here) are never removed by this node's sweep.
 *
 * Crash safety: every catalog change is one synchronous batch, and an object is deleted
 * only after no catalog entry points at it; a crash at any moment leaves a catalog
 * whose every block entry points at an existing pack. Redoing any step is harmless.
 */
import { CID } from '../../protocol/cid.ts'
import type { BlockStore } from '../store/types.ts'
import type { ObjectBackend } from './backend.ts'
import { catalogKey, encodeLocation, type BlockLocation, type Candidate, type Catalog, type CatalogOp, type PackInfo } from './catalog.ts'
import { DEFAULT_GRACE_MS, PACK_TARGET_SIZE, REWRITE_BELOW } from './constants.ts'
import { PACKS_PREFIX, versionObjectKey } from './keys.ts'
import { PackBuilder, packKey, packNameOfKey } from './pack.ts'

export interface SweepProgress {
  phase: 'versions' | 'delete' | 'scan' | 'mark' | 'rewrite' | 'orphans'
  done: number
  total?: number
}

export interface SweepOptions {
  /** Report what would happen; change nothing. @default false */
  dryRun?: boolean
  /** How long a candidate waits before deletion. @default DEFAULT_GRACE_MS (1 h) */
  graceMs?: number
  /** Rewrite a pack whose live bytes are under this fraction of its size. @default REWRITE_BELOW (0.5) */
  rewriteBelow?: number
  signal?: AbortSignal
  onProgress?: (p: SweepProgress) => void
}

export interface SweepReport {
  dryRun: boolean
  /** Version objects removed (their record CID was not live). */
  versionsRemoved: number
  /** Packs newly marked as deletion candidates (with nothing live, or rewritten). */
  packsMarked: number
  /** Packs whose live blocks were copied into new packs. */
  packsRewritten: number
  /** Bytes of live blocks copied by rewrites. */
  rewrittenBytes: number
  /** Candidates deleted from the object store, and their bytes. */
  packsDeleted: number
  bytesDeleted: number
  /** Candidates given back their entries because a block in them is live again. */
  packsRescued: number
  /** Candidates still waiting out their grace period. */
  candidatesPending: number
  /** Packs in the store the catalog did not know (an interrupted upload elsewhere), marked. */
  orphansMarked: number
  liveBlocks: number
  liveBytes: number
  deadBlocks: number
  deadBytes: number
}

export interface SweepContext {
  backend: ObjectBackend
  catalog: Catalog
  /** Where live blocks of a pack being rewritten are read: local store, else the tier. */
  store: Required<Pick<BlockStore, 'getMany'>>
  now: () => number
  /** @default PACK_TARGET_SIZE */
  packTargetSize?: number
}

/**
 * Remove from the tier every pack with nothing live and rewrite packs that are mostly
 * garbage, in two phases (see the module comment).
 *
 * Contract for the caller (`rok gc`):
 * - `live` holds the CID strings of every block of every retained version: manifest
 *   nodes, chunks AND each retained version's record CID. A version whose record CID is
 *   absent has its version object removed from the tier.
 * - Run it in the process that owns the home (the catalog lives in its db); pushes in the
 *   same process may run concurrently. One node writes to a tier prefix.
 * - Interrupting it (signal, crash, kill -9) at any point is safe; the next run finishes
 *   the work. A dry run changes nothing in the catalog or the object store.
 */
export async function sweepTier (ctx: SweepContext, live: Set<string>, options: SweepOptions = {}): Promise<SweepReport> {
  const dryRun = options.dryRun === true
  const grace = options.graceMs ?? DEFAULT_GRACE_MS
  const below = options.rewriteBelow ?? REWRITE_BELOW
  const { signal } = options
  const now = ctx.now()
  const report: SweepReport = {
    dryRun, versionsRemoved: 0, packsMarked: 0, packsRewritten: 0, rewrittenBytes: 0, packsDeleted: 0, bytesDeleted: 0,
    packsRescued: 0, candidatesPending: 0, orphansMarked: 0, liveBlocks: 0, liveBytes: 0, deadBlocks: 0, deadBytes: 0
  }
  const progress = (phase: SweepProgress['phase'], done: number, total?: number): void => options.onProgress?.({ phase, done, total })

  // 1. versions no longer retained: intent, object, records
  const dropped: Array<{ bucket: string, seq: number }> = []
  for await (const v of ctx.catalog.pushedVersions()) {
    // a version this node only pulled belongs to whoever pushed it
    if (!live.has(v.cid) && !(await ctx.catalog.versionPulled(v.bucket, v.seq))) dropped.push(v)
  }
  for await (const [key] of ctx.catalog.kv.iterator({ gt: 'x!', lt: 'x!~' })) {
    const rest = key.slice(2)
    const bang = rest.lastIndexOf('!')
    dropped.push({ bucket: rest.slice(0, bang), seq: Number(rest.slice(bang + 1)) })
  }
  for (const [i, v] of dropped.entries()) {
    signal?.throwIfAborted()
    report.versionsRemoved++
    progress('versions', i + 1, dropped.length)
    if (dryRun) continue
    const intent = `x!${v.bucket}!${v.seq}`
    await ctx.catalog.apply([{ type: 'del', key: catalogKey.version(v.bucket, v.seq) }, { type: 'put', key: intent, value: String(now) }])
    await ctx.backend.delete(versionObjectKey(v.bucket, v.seq), { signal })
    await ctx.catalog.apply([{ type: 'del', key: intent }])
  }

  // 2. candidates: rescue those holding a block that is live again, delete the expired
  const candidates: Array<[string, Candidate]> = []
  for await (const c of ctx.catalog.candidates()) candidates.push(c)
  for (const [i, [name, cand]] of candidates.entries()) {
    signal?.throwIfAborted()
    progress('delete', i + 1, candidates.length)
    const liveAgain = cand.entries.filter(([cid]) => live.has(cid))
    const listed = await ctx.catalog.locateMany(liveAgain.map(([cid]) => cid))
    const rescue = liveAgain.filter((_, j) => listed[j] === undefined)
    // a crash between deleting the object and dropping its records leaves a candidate
    // whose object is gone: never rescue into it (a push sends those blocks again)
    if (rescue.length > 0 && (await ctx.backend.head(packKey(name), { signal })) !== undefined) {
      report.packsRescued++
      if (!dryRun) {
        const info = await ctx.catalog.pack(name)
        if (info !== undefined) {
          await ctx.catalog.apply([
            ...rescue.map(([cid, offset, length]) => ({ type: 'put' as const, key: catalogKey.block(cid), value: encodeLocation({ pack: name, offset, length }) })),
            { type: 'del', key: catalogKey.candidate(name) }
          ])
        }
      }
      continue
    }
    if (now - cand.markedAt < grace) { report.candidatesPending++; continue }
    const info = await ctx.catalog.pack(name)
    report.packsDeleted++
    report.bytesDeleted += info?.size ?? 0
    if (dryRun) continue
    await ctx.backend.delete(packKey(name), { signal })
    await ctx.catalog.apply([{ type: 'del', key: catalogKey.candidate(name) }, { type: 'del', key: catalogKey.pack(name) }])
  }

  // 3. scan: live and dead bytes per pack
  const usage = new Map<string, PackUsage>()
  let scanned = 0
  for await (const [cid, loc] of ctx.catalog.blocks()) {
    const u = usage.get(loc.pack) ?? { live: [], dead: [], liveBytes: 0 }
    if (live.has(cid)) { u.live.push([cid, loc]); u.liveBytes += loc.length; report.liveBlocks++; report.liveBytes += loc.length } else { u.dead.push([cid, loc]); report.deadBlocks++; report.deadBytes += loc.length }
    usage.set(loc.pack, u)
    if (++scanned % 10_000 === 0) { signal?.throwIfAborted(); progress('scan', scanned) }
  }
  const packs = new Map<string, PackInfo>()
  for await (const [name, info] of ctx.catalog.packs()) packs.set(name, info)

  // 4. mark packs with nothing live; collect mostly-garbage packs for rewriting
  const rewrite: string[] = []
  let marked = 0
  for (const [name, info] of packs) {
    if ((await ctx.catalog.kv.get(catalogKey.candidate(name))) !== undefined) continue
    // packs another node wrote are theirs to collect
    if (info.origin === 'listed') continue
    const u = usage.get(name) ?? { live: [], dead: [], liveBytes: 0 }
    if (u.live.length === 0) {
      report.packsMarked++
      progress('mark', ++marked)
      if (!dryRun) await ctx.catalog.apply(markOps(name, u, now))
    } else if (u.dead.length > 0 && u.liveBytes < below * info.size) {
      rewrite.push(name)
    }
  }

  // 5. rewrite: copy live blocks into new packs; one batch per new pack moves the entries
  //    and marks the old packs
  const target = ctx.packTargetSize ?? PACK_TARGET_SIZE
  const builder = new PackBuilder()
  let olds: string[] = []
  const commit = async (): Promise<void> => {
    if (builder.count === 0) return
    const pack = builder.seal()
    await ctx.catalog.beginUpload(pack.name, now)
    await ctx.backend.put(pack.key, pack.bytes, { signal })
    const kind = olds.every(o => packs.get(o)?.kind === 'meta') ? 'meta' : 'data'
    const ops: CatalogOp[] = ctx.catalog.packOps(pack.name, { size: pack.bytes.length, blocks: pack.entries.length, kind, at: ctx.now() },
      pack.entries.map(e => ({ cid: e.cid.toString(), offset: e.offset, length: e.length })))
    for (const old of olds) {
      ops.push(...markOps(old, usage.get(old)!, now))
    }
    await ctx.catalog.apply(ops)
    olds = []
  }
  for (const [i, name] of rewrite.entries()) {
    signal?.throwIfAborted()
    progress('rewrite', i + 1, rewrite.length)
    const u = usage.get(name)!
    report.packsRewritten++
    report.packsMarked++
    report.rewrittenBytes += u.liveBytes
    if (dryRun) continue
    const cids = u.live.map(([cid]) => CID.parse(cid))
    const bytes = await ctx.store.getMany(cids, { signal })
    for (const [j, cid] of cids.entries()) builder.add(cid, bytes[j])
    olds.push(name)
    if (builder.bytes >= target) await commit()
  }
  if (!dryRun) await commit()

  // 6. orphans: packs in the store the catalog never recorded, older than the grace period
  const uploading = new Set(await ctx.catalog.uploads())
  const listed = await ctx.backend.list(PACKS_PREFIX, { signal })
  for (const o of listed) {
    const name = packNameOfKey(o.key)
    if (name === undefined || uploading.has(name) || now - o.modified < grace) continue
    // read the catalog now, not the scan's copy: this run's rewrites recorded new packs
    if ((await ctx.catalog.pack(name)) !== undefined) continue
    if ((await ctx.catalog.kv.get(catalogKey.candidate(name))) !== undefined) continue
    report.orphansMarked++
    progress('orphans', report.orphansMarked)
    if (dryRun) continue
    await ctx.catalog.apply([
      { type: 'put', key: catalogKey.pack(name), value: JSON.stringify({ size: o.size, blocks: 0, kind: 'data', at: now } satisfies PackInfo) },
      { type: 'put', key: catalogKey.candidate(name), value: JSON.stringify({ markedAt: now, entries: [] } satisfies Candidate) }
    ])
  }
  return report
}

interface PackUsage {
  live: Array<[string, BlockLocation]>
  dead: Array<[string, BlockLocation]>
  liveBytes: number
}

/**
 * Drop a pack's dead block entries and record it as a candidate with all its entries
 * (live ones included: a rewrite has just pointed those at the copy), in one batch.
 */
function markOps (name: string, u: PackUsage, now: number): CatalogOp[] {
  const candidate: Candidate = { markedAt: now, entries: [...u.live, ...u.dead].map(([cid, l]) => [cid, l.offset, l.length]) }
  return [
    ...u.dead.map(([cid]) => ({ type: 'del' as const, key: catalogKey.block(cid) })),
    { type: 'put', key: catalogKey.candidate(name), value: JSON.stringify(candidate) }
  ]
}
