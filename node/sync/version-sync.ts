/**
 * The sync of a bucket up to a signed version record: a pure sequence over injected
 * parts (a block store, the buckets, the reverse index and a fetch function), so it
 * knows nothing of libp2p.
 *
 * 1. The target record was verified by the caller; its parents are fetched back to the
 *    local head, each verified (same bucket, same publisher, seq one less, signature).
 * 2. Oldest first, each version's manifest is walked level by level, fetching the nodes
 *    of a level that are missing in one exchange call (a subtree already here costs
 *    local reads only).
 * 3. Its chunks are streamed off the (now local) manifest in bounded batches; each batch
 *    fetches what is missing and then flushes the store, so a killed sync resumes without
 *    fetching again what a finished batch stored. Memory stays flat in the version size.
 * 4. The version is recorded and its blocks indexed as referenced by the bucket.
 */
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from '../../protocol/cid.ts'
import { ProtocolErrorCode, RokError } from '../../protocol/errors.ts'
import { decodeChunkRef, decodeEntry, decodeListNode, decodeRoot } from '../../protocol/manifest.ts'
import { decodeVersionRecord, type EncodedRecord } from '../../protocol/record.ts'
import type { Buckets } from '../buckets/index.ts'
import type { FetchReport } from '../p2p/exchange/index.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { BlockStore } from '../store/types.ts'
import { CHUNK_BATCH_BYTES, CHUNK_BATCH_CONCURRENCY, CHUNK_BATCH_COUNT, MAX_MANIFEST_LEVELS, MAX_VERSIONS_PER_SYNC, NODE_BATCH_COUNT } from './constants.ts'
import { SyncErrorCode } from './errors.ts'
import type { RefIndex } from './refs.ts'

export type FetchPeer = PeerId | Multiaddr

export type FetchFn = (cids: CID[], options: { peers: FetchPeer[], signal?: AbortSignal }) => Promise<FetchReport>

export type SyncEvent =
  | { type: 'sync:version:start', bucket: string, seq: number, size: number }
  | { type: 'sync:nodes:fetched', bucket: string, seq: number, nodes: number, bytes: number }
  | { type: 'sync:batch:stored', bucket: string, seq: number, walkedBytes: number, size: number, chunks: number, bytes: number, storedBytes: number }
  | { type: 'sync:version:done', bucket: string, seq: number, cid: string }

export interface PeerShare {
  peer: string
  blocks: number
  bytes: number
  dropped?: { code: string, message: string }
}

export interface ChainReport {
  bucket: string
  /** Local head before the sync (0: none). */
  fromSeq: number
  toSeq: number
  versions: number
  /** Records, manifest nodes and chunks received. */
  blocks: number
  bytes: number
  recordBytes: number
  nodeBytes: number
  chunkBytes: number
  chunks: number
  peers: PeerShare[]
}

export interface ChainSyncInit {
  store: Pick<BlockStore, 'get' | 'has' | 'flush'> & { hasMany: (cids: CID[]) => Promise<boolean[]> }
  buckets: Pick<Buckets, 'head' | 'get' | 'record'>
  refs: Pick<RefIndex, 'addVersion'>
  fetch: FetchFn
  /** The peers to ask, read again before each exchange call (lookups may add some). */
  peers: () => FetchPeer[]
  signal?: AbortSignal
  onProgress?: (event: SyncEvent) => void
  /** @default CHUNK_BATCH_BYTES (8 MiB) */
  batchBytes?: number
  /** @default CHUNK_BATCH_COUNT (1024) */
  batchCount?: number
  /** Bytes per second the sync may receive; undefined for no limit. */
  maxRate?: number
}

/** Sync `bucket` up to `target` (a record the caller decoded, verified and attributed to `publisher`). */
export async function syncChain (target: EncodedRecord, publisher: string, init: ChainSyncInit): Promise<ChainReport> {
  const run = new ChainSync(target, publisher, init)
  return await run.run()
}

class ChainSync {
  private readonly target: EncodedRecord
  private readonly publisher: string
  private readonly init: ChainSyncInit
  private readonly bucket: string
  private readonly shares = new Map<string, PeerShare>()
  private readonly report: ChainReport
  private readonly started = performance.now()

  constructor (target: EncodedRecord, publisher: string, init: ChainSyncInit) {
    this.target = target
    this.publisher = publisher
    this.init = init
    this.bucket = target.record.bucket
    this.report = {
      bucket: this.bucket, fromSeq: 0, toSeq: target.record.seq, versions: 0, blocks: 0, bytes: 0,
      recordBytes: 0, nodeBytes: 0, chunkBytes: 0, chunks: 0, peers: []
    }
  }

  async run (): Promise<ChainReport> {
    const { buckets } = this.init
    const local = await buckets.head(this.bucket)
    this.report.fromSeq = local?.seq ?? 0
    if (local !== undefined && local.seq >= this.target.record.seq) {
      const same = await buckets.get(this.bucket, this.target.record.seq)
      if (same.cid.toString() !== this.target.cid.toString()) throw this.conflict(`${this.bucket}@${this.target.record.seq} here is ${same.cid.toString()}, the peer's is ${this.target.cid.toString()}`)
      return this.finish()
    }
    const chain = await this.parents(local?.seq ?? 0, local?.cid)
    for (const version of chain) {
      this.init.signal?.throwIfAborted()
      await this.syncVersion(version)
    }
    return this.finish()
  }

  /** The records from just after the local head up to the target, oldest first. */
  private async parents (localSeq: number, localCid: CID | undefined): Promise<EncodedRecord[]> {
    const chain = [this.target]
    let current = this.target
    while (current.record.seq > localSeq + 1) {
      if (chain.length >= MAX_VERSIONS_PER_SYNC) {
        throw new RokError(SyncErrorCode.HISTORY_CONFLICT, `${this.bucket} is more than ${MAX_VERSIONS_PER_SYNC} versions ahead of this node; subscribe anew in a fresh bucket or raise the limit`)
      }
      const parentCid = current.record.parent
      if (parentCid === null) throw this.conflict(`${this.bucket}@${current.record.seq} has no parent`)
      const bytes = await this.block(parentCid, 'record')
      const parent = await decodeVersionRecord(bytes)
      if (parent.record.bucket !== this.bucket || parent.record.seq !== current.record.seq - 1) {
        throw this.conflict(`the parent of ${this.bucket}@${current.record.seq} is ${parent.record.bucket}@${parent.record.seq}`)
      }
      if (parent.record.publisher !== this.publisher) {
        throw new RokError(SyncErrorCode.WRONG_PUBLISHER, `${this.bucket}@${parent.record.seq} is signed by ${parent.record.publisher}, not the publisher ${this.publisher}`)
      }
      chain.push(parent)
      current = parent
    }
    const oldest = chain[chain.length - 1]
    if (oldest.record.seq === localSeq + 1 && localCid !== undefined && (oldest.record.parent === null || !oldest.record.parent.equals(localCid))) {
      throw this.conflict(`${this.bucket}@${oldest.record.seq} does not follow the local ${this.bucket}@${localSeq}`)
    }
    return chain.reverse()
  }

  private async syncVersion (version: EncodedRecord): Promise<void> {
    const { record } = version
    this.emit({ type: 'sync:version:start', bucket: this.bucket, seq: record.seq, size: record.size })
    await this.fetchNodes(record.seq, record.root)
    await this.fetchChunks(record.seq, record.root, record.size)
    // the record goes last: a version is recorded only once everything under it is durable
    await this.init.buckets.record(version)
    await this.init.refs.addVersion(this.bucket, version.cid, record.root, async cid => await this.init.store.get(cid), { signal: this.init.signal })
    this.report.versions++
    this.emit({ type: 'sync:version:done', bucket: this.bucket, seq: record.seq, cid: version.cid.toString() })
  }

  /** Breadth-first over the manifest: one exchange call per level for the missing nodes. */
  private async fetchNodes (seq: number, root: CID): Promise<void> {
    type Kind = 'root' | 'entries' | 'chunks'
    let level: Array<{ cid: CID, kind: Kind }> = [{ cid: root, kind: 'root' }]
    let depth = 0
    while (level.length > 0) {
      if (++depth > MAX_MANIFEST_LEVELS) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: deeper than ${MAX_MANIFEST_LEVELS} levels`)
      const before = this.report.nodeBytes
      let fetched = 0
      for (let i = 0; i < level.length; i += NODE_BATCH_COUNT) {
        const slice = level.slice(i, i + NODE_BATCH_COUNT).map(n => n.cid)
        const have = await this.init.store.hasMany(slice)
        const missing = slice.filter((_, j) => !have[j])
        if (missing.length > 0) {
          const report = await this.fetch(missing, 'node')
          fetched += report.blocks
        }
      }
      if (fetched > 0) {
        await this.init.store.flush({ signal: this.init.signal })
        this.emit({ type: 'sync:nodes:fetched', bucket: this.bucket, seq, nodes: fetched, bytes: this.report.nodeBytes - before })
      }
      const next: typeof level = []
      for (const node of level) {
        const bytes = await this.init.store.get(node.cid)
        if (node.kind === 'root') {
          const manifest = decodeRoot(bytes)
          next.push({ cid: manifest.list, kind: manifest.kind === 'image' ? 'chunks' : 'entries' })
        } else if (node.kind === 'entries') {
          const list = decodeListNode(bytes, decodeEntry)
          if ('branch' in list) for (const [child] of list.branch) next.push({ cid: child, kind: 'entries' })
          else {
            for (const e of list.leaf) {
              if (e.kind === 'dir') next.push({ cid: e.dir!, kind: 'entries' })
              else if (e.kind === 'file' && e.dataTree !== undefined) next.push({ cid: e.dataTree, kind: 'chunks' })
            }
          }
        } else {
          const list = decodeListNode(bytes, decodeChunkRef)
          if ('branch' in list) for (const [child] of list.branch) next.push({ cid: child, kind: 'chunks' })
        }
      }
      level = next
    }
  }

  /**
   * Stream the chunk refs off the local manifest; fetch and flush batch by batch, with
   * CHUNK_BATCH_CONCURRENCY batches in flight so one batch's tail (its last blocks, the
   * flush) overlaps the next one's start. A chunk in flight in one batch is not asked
   * for again by the next.
   */
  private async fetchChunks (seq: number, root: CID, size: number): Promise<void> {
    const batchBytes = this.init.batchBytes ?? CHUNK_BATCH_BYTES
    const batchCount = this.init.batchCount ?? CHUNK_BATCH_COUNT
    const get = async (cid: CID): Promise<Uint8Array> => await this.init.store.get(cid)
    const inflightKeys = new Set<string>()
    const running = new Set<Promise<void>>()
    let failure: unknown
    let batch = new Map<string, CID>()
    let pendingBytes = 0
    let walkedBytes = 0
    let storedBytes = 0
    let chunks = 0
    const runBatch = async (cids: Map<string, CID>, walked: number): Promise<void> => {
      const list = [...cids.values()]
      const have = await this.init.store.hasMany(list)
      const missing = list.filter((_, i) => !have[i])
      if (missing.length > 0) {
        for (const cid of missing) inflightKeys.add(cid.toString())
        try {
          const report = await this.fetch(missing, 'chunk')
          await this.init.store.flush({ signal: this.init.signal })
          storedBytes += report.bytes
          chunks += report.blocks
        } finally {
          for (const cid of missing) inflightKeys.delete(cid.toString())
        }
      }
      this.emit({ type: 'sync:batch:stored', bucket: this.bucket, seq, walkedBytes: walked, size, chunks, bytes: this.report.bytes, storedBytes })
    }
    const launch = async (): Promise<void> => {
      // the rate limit gates the start of each batch
      await this.throttle()
      const cids = batch
      batch = new Map()
      pendingBytes = 0
      const p: Promise<void> = runBatch(cids, walkedBytes).catch((err: unknown) => { failure ??= err }).finally(() => { running.delete(p) })
      running.add(p)
      while (running.size >= CHUNK_BATCH_CONCURRENCY && failure === undefined) await Promise.race(running)
    }
    try {
      for await (const block of manifestBlocks(get, root)) {
        if (failure !== undefined) break
        if (block.type !== 'chunk') continue
        walkedBytes += block.size ?? 0
        const key = block.cid.toString()
        if (batch.has(key) || inflightKeys.has(key)) continue
        batch.set(key, block.cid)
        pendingBytes += block.size ?? 0
        if (pendingBytes >= batchBytes || batch.size >= batchCount) await launch()
      }
      if (batch.size > 0 && failure === undefined) await launch()
    } finally {
      await Promise.allSettled([...running])
    }
    if (failure !== undefined) throw failure
  }

  /** Keep the average receive rate under `maxRate` by pausing before a batch starts. */
  private async throttle (): Promise<void> {
    const rate = this.init.maxRate
    if (rate === undefined || rate <= 0) return
    const due = this.report.bytes / rate * 1000 - (performance.now() - this.started)
    if (due > 0) await new Promise<void>((resolve, reject) => {
      const signal = this.init.signal
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, due)
      const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async block (cid: CID, kind: 'record'): Promise<Uint8Array> {
    if (!await this.init.store.has(cid)) await this.fetch([cid], kind)
    return await this.init.store.get(cid)
  }

  private async fetch (cids: CID[], kind: 'record' | 'node' | 'chunk'): Promise<FetchReport> {
    this.init.signal?.throwIfAborted()
    const peers = this.init.peers()
    if (peers.length === 0) throw new RokError(SyncErrorCode.BLOCKS_MISSING, `no peer to fetch ${this.bucket} from`)
    const report = await this.init.fetch(cids, { peers, signal: this.init.signal })
    this.report.blocks += report.blocks
    this.report.bytes += report.bytes
    if (kind === 'record') this.report.recordBytes += report.bytes
    else if (kind === 'node') this.report.nodeBytes += report.bytes
    else { this.report.chunkBytes += report.bytes; this.report.chunks += report.blocks }
    for (const p of report.peers) {
      const share = this.shares.get(p.peer) ?? { peer: p.peer, blocks: 0, bytes: 0 }
      share.blocks += p.blocks
      share.bytes += p.bytes
      if (p.dropped !== undefined) share.dropped = p.dropped
      this.shares.set(p.peer, share)
    }
    if (report.missing.length > 0) {
      const why = report.peers.filter(p => p.dropped !== undefined).map(p => `${p.peer}: ${p.dropped!.message}`).join('; ')
      throw new RokError(SyncErrorCode.BLOCKS_MISSING,
        `${report.missing.length} ${kind}${report.missing.length === 1 ? '' : 's'} of ${this.bucket} could not be fetched from ${peers.length} peer${peers.length === 1 ? '' : 's'}${why === '' ? ' (they refused or do not have them: is this node allowed on the bucket?)' : ` (${why})`}`,
        { details: { bucket: this.bucket, missing: report.missing.slice(0, 10).map(c => c.toString()) } })
    }
    return report
  }

  private conflict (message: string): RokError {
    return new RokError(SyncErrorCode.HISTORY_CONFLICT, message, { details: { bucket: this.bucket } })
  }

  private emit (event: SyncEvent): void {
    this.init.onProgress?.(event)
  }

  private finish (): ChainReport {
    this.report.peers = [...this.shares.values()].sort((a, b) => b.bytes - a.bytes)
    return this.report
  }
}
