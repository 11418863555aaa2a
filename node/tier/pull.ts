/**
 * Reading the tier from a node that may never have written to it: index packs the
 * catalog does not know (one LIST of `packs/`, one trailer GET per new pack), list the
 * buckets and versions in the store, and pull a version — its signed record, its
 * manifest and, with `data`, its chunks — into the local home.
 */
import { type CID, DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { decodeVersionRecord, type EncodedRecord } from '../../protocol/record.ts'
import type { Buckets } from '../buckets/index.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { BlockStore } from '../store/types.ts'
import type { ObjectBackend } from './backend.ts'
import type { Catalog } from './catalog.ts'
import { TierErrorCode } from './errors.ts'
import { PACKS_PREFIX, VERSIONS_PREFIX, parseVersionObjectKey, versionObjectKey } from './keys.ts'
import { mapLimit } from './limit.ts'
import { packNameOfKey } from './pack.ts'
import { readPackIndex } from './push.ts'
import { FETCH_CONCURRENCY } from './constants.ts'

export interface RemoteVersion {
  bucket: string
  seq: number
  /** When the version object was written. */
  modified: string
}

/** Index every pack in the store the catalog does not list yet. Returns how many were new. */
export async function refreshCatalog (ctx: { backend: ObjectBackend, catalog: Catalog, now: () => number }, signal?: AbortSignal): Promise<number> {
  const listed = await ctx.backend.list(PACKS_PREFIX, { signal })
  const fresh: Array<{ name: string, size: number }> = []
  for (const o of listed) {
    const name = packNameOfKey(o.key)
    if (name === undefined) continue
    if ((await ctx.catalog.pack(name)) !== undefined) continue
    // a pack gc has marked for deletion is not brought back
    if ((await ctx.catalog.kv.get(`c!${name}`)) !== undefined) continue
    fresh.push({ name, size: o.size })
  }
  await mapLimit(fresh, FETCH_CONCURRENCY, async ({ name, size }) => {
    let entries
    try {
      entries = await readPackIndex(ctx.backend, name, size, signal)
    } catch (err) {
      // a half-written pack (an interrupted upload on a server that shows those) holds
      // nothing a version object needs: its writer sends the blocks again
      if ((err as RokError).code === TierErrorCode.DAMAGED) return
      throw err
    }
    const kind = entries.every(e => e.cid.code === DAG_CBOR_CODEC) ? 'meta' : 'data'
    await ctx.catalog.apply(ctx.catalog.packOps(name, { size, blocks: entries.length, kind, at: ctx.now(), origin: 'listed' },
      entries.map(e => ({ cid: e.cid.toString(), offset: e.offset, length: e.length }))))
  })
  return fresh.length
}

/** Versions in the object store, by bucket then seq; one bucket's when `bucket` is given. */
export async function listRemoteVersions (backend: ObjectBackend, bucket?: string, signal?: AbortSignal): Promise<RemoteVersion[]> {
  const listed = await backend.list(bucket === undefined ? VERSIONS_PREFIX : `${VERSIONS_PREFIX}${bucket}/`, { signal })
  const out: RemoteVersion[] = []
  for (const o of listed) {
    const v = parseVersionObjectKey(o.key)
    if (v !== undefined && (bucket === undefined || v.bucket === bucket)) out.push({ ...v, modified: new Date(o.modified).toISOString() })
  }
  return out.sort((a, b) => a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : a.seq - b.seq)
}

/** A version's signed record from the store, checked (signature, bucket and seq match the key). */
export async function fetchVersionRecord (backend: ObjectBackend, bucket: string, seq: number | undefined, signal?: AbortSignal): Promise<EncodedRecord> {
  if (seq === undefined) {
    const versions = await listRemoteVersions(backend, bucket, signal)
    if (versions.length === 0) {
      throw new RokError(TierErrorCode.VERSION_NOT_FOUND, `bucket ${bucket} has no versions in ${backend.location}; 'rok tier list' shows what it holds`, { details: { bucket } })
    }
    seq = versions[versions.length - 1].seq
  }
  let bytes: Uint8Array
  try {
    bytes = await backend.get(versionObjectKey(bucket, seq), { signal })
  } catch (err) {
    if ((err as RokError).code === TierErrorCode.OBJECT_NOT_FOUND) {
      throw new RokError(TierErrorCode.VERSION_NOT_FOUND, `version ${bucket}@${seq} is not in ${backend.location}; 'rok tier list ${bucket}' shows its versions`, { cause: err, details: { bucket, seq } })
    }
    throw err
  }
  const encoded = await decodeVersionRecord(bytes)
  if (encoded.record.bucket !== bucket || encoded.record.seq !== seq) {
    throw new RokError(TierErrorCode.DAMAGED, `the object for ${bucket}@${seq} holds ${encoded.record.bucket}@${encoded.record.seq}`, { details: { bucket, seq } })
  }
  return encoded
}

export interface PullProgress {
  version: string
  blocks: number
  bytes: number
}

export interface PullOptions {
  data?: boolean
  signal?: AbortSignal
  onProgress?: (p: PullProgress) => void
}

export interface PullReport {
  bucket: string
  seq: number
  cid: string
  /** True when the version was already in the local home. */
  alreadyLocal: boolean
  /** Blocks brought into the local store (manifest nodes, and chunks with --data). */
  blocks: number
  bytes: number
  data: boolean
}

export interface PullContext {
  backend: ObjectBackend
  catalog: Catalog
  /** The local store reading through to the tier. */
  store: Pick<BlockStore, 'get' | 'has' | 'flush'> & Required<Pick<BlockStore, 'getMany'>> & { hasLocal: (cids: CID[]) => Promise<boolean[]> }
  buckets: Pick<Buckets, 'get' | 'record'>
  addVersion: (bucket: string, cid: CID, root: CID) => Promise<void>
  now: () => number
}

/** Chunk bytes fetched per batch: big enough for a few ranged GETs in parallel. */
const DATA_BATCH_BYTES = 96 * 1024 * 1024

export async function pullVersion (ctx: PullContext, bucket: string, seq: number | undefined, options: PullOptions = {}): Promise<PullReport> {
  const { signal } = options
  const encoded = await fetchVersionRecord(ctx.backend, bucket, seq, signal)
  const { record, cid } = encoded
  const name = `${bucket}@${record.seq}`
  const local = await ctx.buckets.get(bucket, record.seq).catch(() => undefined)
  const localCid = local?.cid.toString()
  if (localCid !== undefined && localCid !== cid.toString()) {
    throw new RokError(TierErrorCode.DAMAGED, `${name} here is ${localCid} but the tier holds ${cid.toString()}: two nodes published the same bucket into one tier`, { details: { bucket, seq: record.seq } })
  }
  await refreshCatalog(ctx, signal)
  const report: PullReport = { bucket, seq: record.seq, cid: cid.toString(), alreadyLocal: local !== undefined, blocks: 0, bytes: 0, data: options.data === true }
  let chunks: CID[] = []
  let batchBytes = 0
  const fetchChunks = async (): Promise<void> => {
    const have = await ctx.store.hasLocal(chunks)
    const missing = chunks.filter((_, i) => !have[i])
    chunks = []
    batchBytes = 0
    if (missing.length === 0) return
    const got = await ctx.store.getMany(missing, { signal })
    report.blocks += got.length
    for (const b of got) report.bytes += b.length
    options.onProgress?.({ version: name, blocks: report.blocks, bytes: report.bytes })
  }
  // Walking through the read-through store brings every manifest node in.
  for await (const block of manifestBlocks(async c => await ctx.store.get(c, { signal }), record.root)) {
    signal?.throwIfAborted()
    if (block.type === 'node') { report.blocks++; continue }
    if (options.data !== true) continue
    chunks.push(block.cid)
    batchBytes += block.size ?? 0
    if (batchBytes >= DATA_BATCH_BYTES) await fetchChunks()
  }
  await fetchChunks()
  await ctx.store.flush()
  if (local === undefined) {
    await ctx.buckets.record(encoded)
    await ctx.addVersion(bucket, cid, record.root)
  }
  // it is in the tier: a push from this node must not send it again
  await ctx.catalog.markVersionPulled(bucket, record.seq, cid.toString())
  return report
}
