/**
 * Push: copy every local version the tier does not hold yet into the object store.
 * For each version, walk its manifest; blocks the catalog does not list go into packs
 * (chunks and manifest nodes in separate packs), a few packs upload at once; once all
 * of a version's packs are in and recorded, its signed record goes up as the version
 * object and the version is marked pushed.
 *
 * Resuming after a crash: an upload is announced in the catalog (`u!`) before it starts.
 * The next push looks for each announced pack (one HEAD each, only for those) and adopts
 * a pack that made it, so its blocks are not sent again; nothing is LISTed.
 */
import type { CID } from '../../protocol/cid.ts'
import { DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { TierErrorCode } from './errors.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { DiskBlockStore } from '../store/index.ts'
import type { Buckets } from '../buckets/index.ts'
import type { ObjectBackend } from './backend.ts'
import type { Catalog } from './catalog.ts'
import { PACK_TARGET_SIZE, PUSH_CONCURRENCY, TRAILER_PROBE } from './constants.ts'
import { versionObjectKey } from './keys.ts'
import { TaskSlots } from './limit.ts'
import { PACK_ENTRY_OVERHEAD, PackBuilder, packKey, parseTrailer, trailerLength, type SealedPack } from './pack.ts'

export interface PushContext {
  backend: ObjectBackend
  catalog: Catalog
  store: Pick<DiskBlockStore, 'get' | 'getMany'>
  buckets: Pick<Buckets, 'all'>
  now: () => number
  /** @default PACK_TARGET_SIZE */
  packTargetSize?: number
}

export interface PushProgress {
  version?: string
  /** Bytes of objects uploaded so far. */
  bytes: number
  packs: number
  blocks: number
}

export interface PushOptions {
  /** Only this bucket's versions. */
  bucket?: string
  signal?: AbortSignal
  onProgress?: (p: PushProgress) => void
}

export interface PushReport {
  /** Versions uploaded now, as `group/name@seq`. */
  versions: string[]
  /** Versions the tier already held. */
  alreadyPushed: number
  packs: number
  blocks: number
  /** Bytes of block data newly uploaded. */
  blockBytes: number
  /** Bytes of all objects uploaded (packs with headers and trailers, version records). */
  uploadedBytes: number
  /** Packs found complete in the store after an interrupted push and adopted. */
  resumedPacks: number
}

const WALK_BATCH = 1024

export async function pushVersions (ctx: PushContext, options: PushOptions = {}): Promise<PushReport> {
  const { signal } = options
  const report: PushReport = { versions: [], alreadyPushed: 0, packs: 0, blocks: 0, blockBytes: 0, uploadedBytes: 0, resumedPacks: 0 }
  report.resumedPacks = await resumeUploads(ctx, signal)
  const todo: Array<{ bucket: string, seq: number, cid: CID }> = []
  for await (const v of ctx.buckets.all()) {
    if (options.bucket !== undefined && v.bucket !== options.bucket) continue
    if (await ctx.catalog.versionPushed(v.bucket, v.seq)) { report.alreadyPushed++; continue }
    todo.push(v)
  }
  const progress = (version?: string): void => options.onProgress?.({ version, bytes: report.uploadedBytes, packs: report.packs, blocks: report.blocks })
  for (const v of todo) {
    signal?.throwIfAborted()
    const name = `${v.bucket}@${v.seq}`
    await pushBlocks(ctx, v.cid, report, signal, () => progress(name))
    const record = await ctx.store.get(v.cid)
    await ctx.backend.put(versionObjectKey(v.bucket, v.seq), record, { signal })
    report.uploadedBytes += record.length
    await ctx.catalog.markVersionPushed(v.bucket, v.seq, v.cid.toString())
    report.versions.push(name)
    progress(name)
  }
  return report
}

/** Upload every block of a version's manifest the tier lacks; resolves when all are recorded. */
async function pushBlocks (ctx: PushContext, recordCid: CID, report: PushReport, signal: AbortSignal | undefined, progress: () => void): Promise<void> {
  const { record } = await decodeVersionRecord(await ctx.store.get(recordCid))
  const target = ctx.packTargetSize ?? PACK_TARGET_SIZE
  const slots = new TaskSlots(PUSH_CONCURRENCY)
  const data = new PackBuilder()
  const meta = new PackBuilder()
  const queued = new Set<string>()
  let sealed = 0
  const upload = async (pack: SealedPack, kind: 'data' | 'meta'): Promise<void> => {
    await slots.run(async () => {
      await uploadPack(ctx, pack, kind, signal)
      report.packs++
      report.blocks += pack.entries.length
      for (const e of pack.entries) report.blockBytes += e.length
      report.uploadedBytes += pack.bytes.length
      progress()
    })
  }
  let batch: Array<{ cid: CID, type: 'node' | 'chunk' }> = []
  const flushBatch = async (): Promise<void> => {
    const found = await ctx.catalog.locateMany(batch.map(b => b.cid.toString()))
    const wanted = batch.filter((b, i) => found[i] === undefined && !queued.has(b.cid.toString()))
    batch = []
    if (wanted.length === 0) return
    for (const w of wanted) queued.add(w.cid.toString())
    const bytes = await ctx.store.getMany(wanted.map(w => w.cid))
    for (const [i, w] of wanted.entries()) {
      const builder = w.cid.code === DAG_CBOR_CODEC ? meta : data
      // seal before the pack would grow past the target: a pack is then exactly two
      // multipart parts, not two and a sliver
      if (builder.count > 0 && builder.sealedBytes + bytes[i].length + PACK_ENTRY_OVERHEAD > target) {
        await upload(builder.seal(), builder === meta ? 'meta' : 'data')
        sealed++
      }
      builder.add(w.cid, bytes[i])
    }
  }
  for await (const block of manifestBlocks(async cid => await ctx.store.get(cid), record.root)) {
    signal?.throwIfAborted()
    batch.push(block)
    if (batch.length >= WALK_BATCH) await flushBatch()
  }
  await flushBatch()
  // A small change leaves a little of each: one pack instead of two saves a request. A
  // large version keeps its manifest in a pack of its own, which a pull reads in one GET.
  if (sealed === 0 && data.count > 0 && meta.count > 0 && data.bytes + meta.bytes < target) {
    for (const [cid, bytes] of meta.take()) data.add(cid, bytes)
  }
  if (data.count > 0) await upload(data.seal(), 'data')
  if (meta.count > 0) await upload(meta.seal(), 'meta')
  await slots.drain()
}

async function uploadPack (ctx: PushContext, pack: SealedPack, kind: 'data' | 'meta', signal: AbortSignal | undefined): Promise<void> {
  await ctx.catalog.beginUpload(pack.name, ctx.now())
  await ctx.backend.put(pack.key, pack.bytes, { signal })
  await ctx.catalog.apply(ctx.catalog.packOps(pack.name, { size: pack.bytes.length, blocks: pack.entries.length, kind, at: ctx.now() },
    pack.entries.map(e => ({ cid: e.cid.toString(), offset: e.offset, length: e.length }))))
}

/** Adopt packs whose upload finished just before a crash; forget the ones that did not. */
async function resumeUploads (ctx: Pick<PushContext, 'backend' | 'catalog' | 'now'>, signal?: AbortSignal): Promise<number> {
  let adopted = 0
  for (const name of await ctx.catalog.uploads()) {
    const head = await ctx.backend.head(packKey(name), { signal })
    if (head === undefined) { await ctx.catalog.endUpload(name); continue }
    let entries
    try {
      entries = await readPackIndex(ctx.backend, name, head.size, signal)
    } catch (err) {
      if ((err as RokError).code !== TierErrorCode.DAMAGED) throw err
      // S3 never shows half an object, but some S3-compatible servers killed mid-write do:
      // nothing points at it, so remove it and let this push send the blocks again
      await ctx.backend.delete(packKey(name), { signal })
      await ctx.catalog.endUpload(name)
      continue
    }
    const kind = entries.every(e => e.cid.code === DAG_CBOR_CODEC) ? 'meta' : 'data'
    await ctx.catalog.apply(ctx.catalog.packOps(name, { size: head.size, blocks: entries.length, kind, at: ctx.now() },
      entries.map(e => ({ cid: e.cid.toString(), offset: e.offset, length: e.length }))))
    adopted++
  }
  return adopted
}

/** A pack's entries from its trailer: one suffix GET, a second only for a huge trailer. */
export async function readPackIndex (backend: ObjectBackend, name: string, size: number, signal?: AbortSignal): Promise<ReturnType<typeof parseTrailer>> {
  const probe = Math.min(size, TRAILER_PROBE)
  let tail = await backend.get(packKey(name), { range: { offset: size - probe, length: probe }, signal })
  const need = trailerLength(name, tail)
  if (need > size) throw new RokError(TierErrorCode.DAMAGED, `tier pack ${name} is damaged: its trailer is longer than the pack`, { details: { pack: name } })
  if (need > tail.length) tail = await backend.get(packKey(name), { range: { offset: size - need, length: need }, signal })
  return parseTrailer(name, tail, size)
}
