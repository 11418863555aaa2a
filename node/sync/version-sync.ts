/**
 * The sync of a bucket up to a signed version record: a pure sequence over injected
 * parts (a block store, the buckets, the reverse index and a fetch function), so it
 * knows nothing of libp2p.
 *
 * 1. The target record was verified by the caller; its parents are fetched back to the
 *    local head, each verified (same bucket, same publisher, seq one less, signature).
 *    A parent no peer serves any more (the publisher forgot it: `rok forget`, then gc)
 *    ends the walk there: the versions from the oldest record still served up to the
 *    target are synced, the forgotten ones between are skipped (`skipped` in the report).
 * 2. Oldest first, each version's manifest is walked level by level, fetching the nodes
 *    of a level that are missing in one exchange call (a subtree already here costs
 *    local reads only). The same walk lists the version's chunks and sorts them against
 *    the store (chunk-list.ts): only the missing ones are cut into batches, so an update
 *    asks for its few changed chunks in a few want lists.
 * 3. Its blocks are indexed as referenced by the bucket while the chunks arrive, so this
 *    node serves what it holds of the version to fellow subscribers (the record was
 *    verified: the publisher signed that the bucket references them).
 * 4. The missing chunks are fetched batch by batch in the order of a BatchOrder, told by the
 *    version's swarm (swarm.ts) what fellow subscribers hold and fetch: a batch a fellow
 *    holds comes from it, one nobody is on from the publisher, one a fellow is fetching is
 *    waited for. This node tells its fellows the same of itself as it goes. Each batch
 *    flushes the store (manifest nodes fetched before it too), so a killed sync resumes
 *    without fetching again what a finished batch stored.
 * 5. The version is recorded.
 *
 * Before moving forward, the bucket's versions `rok verify --repair` marked damaged are
 * healed, newest first: each goes through 2–5 again (the record is fetched too if it was
 * the damage), so what it lacks comes from the peers; one no peer serves any more stays
 * marked (`unhealed` in the report) and does not stop the sync.
 */
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { cidKey, parseCid, type CID } from '../../protocol/cid.ts'
import { isRokError, ProtocolErrorCode, RokError } from '../../protocol/errors.ts'
import { decodeChunkRef, decodeEntry, decodeListNode, decodeRoot, isLeafListNode } from '../../protocol/manifest.ts'
import { decodeVersionRecord, type EncodedRecord } from '../../protocol/record.ts'
import type { Buckets } from '../buckets/index.ts'
import type { FetchProgressEvent, FetchReport, PeerFetchStats } from '../p2p/exchange/index.ts'
import type { BlockStore } from '../store/types.ts'
import { MAX_HAVE_RANGES } from '../../protocol/have.ts'
import {
  BATCHES_PER_VERSION, CHUNK_BATCH_BYTES, CHUNK_BATCH_CONCURRENCY, CHUNK_BATCH_COUNT, HAVE_CLAIM_TTL_MS,
  MAX_MANIFEST_LEVELS, MAX_VERSIONS_PER_SYNC, MIN_CHUNK_BATCH_BYTES, NODE_BATCH_COUNT, SWARM_GRACE_MS, SWARM_STALL_MS
} from './constants.ts'
import { SyncErrorCode } from './errors.ts'
import { BatchOrder, NO_FELLOWS, type BatchTurn, type SwarmKnowledge } from './batch-order.ts'
import { ownRanges, type SwarmView } from './swarm-view.ts'
import { ChunkSorter, packedCidBytes, unpackCids } from './chunk-list.ts'
import type { RefIndex } from './refs.ts'

export type FetchPeer = PeerId | Multiaddr

export type FetchFn = (cids: CID[], options: { peers: FetchPeer[], signal?: AbortSignal, onProgress?: (event: FetchProgressEvent) => void, small?: boolean, absent?: boolean }) => Promise<FetchReport>

export type SyncEvent =
  | { type: 'sync:version:start', bucket: string, seq: number, size: number, cid: string }
  /** Versions fromSeq..toSeq no peer serves any more (forgotten by the publisher): not synced. */
  | { type: 'sync:versions:skipped', bucket: string, fromSeq: number, toSeq: number }
  | { type: 'sync:nodes:fetched', bucket: string, seq: number, nodes: number, bytes: number }
  | { type: 'sync:batch:stored', bucket: string, seq: number, walkedBytes: number, size: number, chunks: number, bytes: number, storedBytes: number }
  | { type: 'sync:version:done', bucket: string, seq: number, cid: string }
  /** A version marked damaged (rok verify --repair) has everything again. */
  | { type: 'sync:version:healed', bucket: string, seq: number, cid: string }
  /** A version marked damaged that no peer could complete; it stays marked. */
  | { type: 'sync:version:unhealed', bucket: string, seq: number, cid: string, message: string }

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
  /** Versions between the local head and the target that no peer serves any more (forgotten by the publisher), skipped. */
  skipped: number
  /** Versions marked damaged that this sync completed again. */
  healed: number
  /** Versions marked damaged that no peer could complete (still marked). */
  unhealed: number
  peers: PeerShare[]
}

export interface ChainSyncInit {
  store: Pick<BlockStore, 'get' | 'getMany' | 'has' | 'flush'> & { hasMany: (cids: CID[]) => Promise<boolean[]> }
  buckets: Pick<Buckets, 'head' | 'get' | 'record'>
  refs: Pick<RefIndex, 'addBlocks' | 'state' | 'damaged' | 'healed'>
  fetch: FetchFn
  /** The peers to ask, read again before each exchange call (lookups may add some). */
  peers: () => FetchPeer[]
  /**
   * Join the swarm of a version once its chunk list is known (`chunks` of them): what
   * fellow subscribers say they hold and fetch, and where this node says the same.
   * @default none: every batch from `peers`, from this node's offset round
   */
  swarm?: (version: EncodedRecord, chunks: number) => VersionSwarm
  /** Where in each version's chunk list this node starts, a fraction in [0, 1) (see BatchOrder). @default 0 */
  offset?: number
  signal?: AbortSignal
  onProgress?: (event: SyncEvent) => void
  /**
   * Chunk bytes per batch. @default the version's size / BATCHES_PER_VERSION (64), between
   * MIN_CHUNK_BATCH_BYTES (1 MiB) and CHUNK_BATCH_BYTES (8 MiB)
   */
  batchBytes?: number
  /** @default CHUNK_BATCH_COUNT (1024) */
  batchCount?: number
  /** Bytes per second the sync may receive; undefined for no limit. */
  maxRate?: number
  /**
   * Where blocks no peer had come from as a last resort (the node's object-storage tier):
   * stores what it can and says which. Without it such blocks fail the sync.
   */
  fallback?: (cids: CID[], signal?: AbortSignal) => Promise<{ stored: CID[], bytes: number }>
}

/** A version's swarm as the sync uses it (node/sync/swarm.ts gives one per version). */
export interface VersionSwarm {
  readonly view: Pick<SwarmView, 'size' | 'holders' | 'claimed' | 'peers' | 'active' | 'subscribe'>
  /** This node's peer id (its rank among the fellows is by peer id). */
  readonly self: string
  /** The peer to fetch from for a fellow the view names. */
  peer: (key: string) => FetchPeer
  /** This node's statement now: what it holds (and the batches it fetches from the publisher). */
  advertise: (ranges: Array<{ start: number, end: number, state: 'stored' | 'fetching' }>) => void
  /** The sync of the version is over; `complete` when it is recorded here. */
  close: (complete: boolean) => void
}

/** A manifest node as a walk meets it: what kind of node its parent says it is. */
interface ManifestNode { cid: CID, kind: 'root' | 'entries' | 'chunks' }

/**
 * Queue a manifest node's child nodes on `next` and hand its chunks to `chunk`, in list
 * order. Without `chunk`, a chunk list's leaf is not decoded at all.
 */
async function expandNode (node: ManifestNode, bytes: Uint8Array, next: ManifestNode[], chunk?: (cid: CID, size: number) => Promise<void>): Promise<void> {
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
        else if (e.kind === 'file' && e.data !== undefined && chunk !== undefined) for (const [c, n] of e.data) await chunk(c, n)
      }
    }
  } else if (chunk !== undefined || !isLeafListNode(bytes)) {
    const list = decodeListNode(bytes, decodeChunkRef)
    if ('branch' in list) for (const [child] of list.branch) next.push({ cid: child, kind: 'chunks' })
    else if (chunk !== undefined) for (const [c, n] of list.leaf) await chunk(c, n)
  }
}

/** How the object-storage tier shows in a sync's per-source report. */
export const OBJECT_STORE_SOURCE = 'object-store'

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
      recordBytes: 0, nodeBytes: 0, chunkBytes: 0, chunks: 0, skipped: 0, healed: 0, unhealed: 0, peers: []
    }
  }

  async run (): Promise<ChainReport> {
    const { buckets } = this.init
    const local = await buckets.head(this.bucket)
    this.report.fromSeq = local?.seq ?? 0
    if (local !== undefined && local.seq >= this.target.record.seq) {
      const same = await buckets.get(this.bucket, this.target.record.seq)
      if (same.cid.toString() !== this.target.cid.toString()) throw this.conflict(`${this.bucket}@${this.target.record.seq} here is ${same.cid.toString()}, the peer's is ${this.target.cid.toString()}`)
      await this.heal()
      return this.finish()
    }
    // first, so a healed head serves the update below as its base
    await this.heal()
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
      let bytes: Uint8Array
      try {
        bytes = await this.block(parentCid, 'record')
      } catch (err) {
        // the peers refused or lack it: the publisher forgot it (and those before it). A
        // subscriber this far behind gets the newest versions there are rather than none.
        if (!isRokError(err, SyncErrorCode.BLOCKS_MISSING)) throw err
        this.report.skipped = current.record.seq - 1 - localSeq
        this.emit({ type: 'sync:versions:skipped', bucket: this.bucket, fromSeq: localSeq + 1, toSeq: current.record.seq - 1 })
        break
      }
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

  /** The bucket's versions marked damaged, newest first (see the top of this file). */
  private async heal (): Promise<void> {
    for (const { seq, record } of await this.init.refs.damaged(this.bucket)) {
      this.init.signal?.throwIfAborted()
      const cid = parseCid(record)
      try {
        // the record's bytes hash to the CID this node recorded: no signature to check again
        const version = await decodeVersionRecord(await this.block(cid, 'record'))
        if (version.record.bucket !== this.bucket || version.record.seq !== seq) throw this.conflict(`the version marked damaged as ${this.bucket}@${seq} is ${version.record.bucket}@${version.record.seq}`)
        await this.syncVersion(version, true)
        await this.init.refs.healed(this.bucket, cid)
        this.report.healed++
        this.emit({ type: 'sync:version:healed', bucket: this.bucket, seq, cid: record })
      } catch (err) {
        if (!isRokError(err, SyncErrorCode.BLOCKS_MISSING)) throw err
        this.report.unhealed++
        this.emit({ type: 'sync:version:unhealed', bucket: this.bucket, seq, cid: record, message: (err as Error).message })
      }
    }
  }

  /** @param healing - the version is recorded here already, marked damaged: not counted as a new one */
  private async syncVersion (version: EncodedRecord, healing = false): Promise<void> {
    const { record } = version
    this.emit({ type: 'sync:version:start', bucket: this.bucket, seq: record.seq, size: record.size, cid: version.cid.toString() })
    const walk = await this.walkManifest(record.seq, record.root, record.size, await this.baseNodes())
    // indexed while the chunks arrive (not after: fellow subscribers may fetch each chunk from
    // here once it is stored; not before: an update would wait on indexing its unchanged blocks)
    const blocks = function * (): Iterable<CID | Uint8Array> {
      yield * walk.nodes
      for (const group of walk.chunks.toIndex) yield * packedCidBytes(group)
    }
    const indexing = this.init.refs.addBlocks(this.bucket, version.cid, blocks(), { signal: this.init.signal })
    const swarm = walk.chunks.batches.length > 0 ? this.init.swarm?.(version, walk.chunks.total) : undefined
    let recorded = false
    try {
      const [indexed, fetched] = await Promise.allSettled([indexing, this.fetchChunks(record.seq, walk.chunks, record.size, swarm)])
      if (fetched.status === 'rejected') throw fetched.reason
      if (indexed.status === 'rejected') throw indexed.reason
      // the record goes last: a version is recorded only once everything under it is durable
      await this.init.store.flush({ signal: this.init.signal })
      await this.init.buckets.record(version)
      recorded = true
    } finally {
      swarm?.close(recorded)
    }
    if (healing) return
    this.report.versions++
    this.emit({ type: 'sync:version:done', bucket: this.bucket, seq: record.seq, cid: version.cid.toString() })
  }

  /**
   * The manifest nodes (by cidKey) of the bucket's local head, when that version is sound
   * for the bucket: recorded, so every block under it is here, every block referenced for
   * the bucket, and not marked damaged by `rok verify --repair` since. The chunks of a node
   * the new version shares with it are then neither looked up nor indexed again: a 1%
   * update of 1 GiB spent a third of its time on both. Its chunk lists' leaves are read but
   * not decoded (only their CIDs matter).
   */
  private async baseNodes (): Promise<Set<string> | undefined> {
    const head = await this.init.buckets.head(this.bucket)
    if (head === undefined || await this.init.refs.state(this.bucket, head.cid) !== 'sound') return undefined
    const nodes = new Set<string>()
    let level: ManifestNode[] = [{ cid: head.record.root, kind: 'root' }]
    try {
      for (let depth = 0; level.length > 0 && depth < MAX_MANIFEST_LEVELS; depth++) {
        this.init.signal?.throwIfAborted()
        const next: ManifestNode[] = []
        const blocks = await this.readLevel(level.map(n => n.cid))
        for (const [i, node] of level.entries()) {
          nodes.add(cidKey(node.cid.bytes))
          await expandNode(node, blocks[i], next)
        }
        level = next
      }
    } catch (err) {
      this.init.signal?.throwIfAborted()
      // a head damaged since it was recorded ('rok verify' names what) is no base: the sync
      // looks every chunk up as without one, and fetches what is missing
      if (isRokError(err)) return undefined
      throw err
    }
    return nodes
  }

  /**
   * Breadth-first over the manifest: one exchange call per level for the missing nodes.
   * Returns the manifest's nodes, and its chunks sorted into those here and the batches of
   * those to fetch (one walk serves the fetch and the reverse index).
   */
  private async walkManifest (seq: number, root: CID, size: number, base: Set<string> | undefined): Promise<{ nodes: CID[], chunks: ChunkSorter }> {
    const batchBytes = this.init.batchBytes ?? Math.min(CHUNK_BATCH_BYTES, Math.max(MIN_CHUNK_BATCH_BYTES, Math.ceil(size / BATCHES_PER_VERSION)))
    const chunks = new ChunkSorter(async cids => await this.init.store.hasMany(cids), batchBytes, this.init.batchCount ?? CHUNK_BATCH_COUNT)
    const nodes: CID[] = []
    let level: ManifestNode[] = [{ cid: root, kind: 'root' }]
    let depth = 0
    while (level.length > 0) {
      this.init.signal?.throwIfAborted()
      for (const n of level) nodes.push(n.cid)
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
      // not flushed here: the store reads blocks it has not flushed yet, and the first chunk batch's flush makes them durable
      if (fetched > 0) this.emit({ type: 'sync:nodes:fetched', bucket: this.bucket, seq, nodes: fetched, bytes: this.report.nodeBytes - before })
      const next: ManifestNode[] = []
      const blocks = await this.readLevel(level.map(n => n.cid))
      for (const [i, node] of level.entries()) {
        const known = base?.has(cidKey(node.cid.bytes)) === true
        await expandNode(node, blocks[i], next, async (c, n) => { await chunks.add(c, n, known) })
      }
      level = next
    }
    await chunks.finish()
    return { nodes, chunks }
  }

  /** The bytes of a level's nodes, NODE_BATCH_COUNT at a time, with one store call each where the store can. */
  private async readLevel (cids: CID[]): Promise<Uint8Array[]> {
    const { store } = this.init
    const out: Uint8Array[] = []
    for (let i = 0; i < cids.length; i += NODE_BATCH_COUNT) {
      const slice = cids.slice(i, i + NODE_BATCH_COUNT)
      out.push(...(store.getMany !== undefined ? await store.getMany(slice, { signal: this.init.signal }) : await Promise.all(slice.map(async c => await store.get(c)))))
    }
    return out
  }

  /**
   * Fetch the chunk batches listed off the local manifest in BatchOrder, with
   * CHUNK_BATCH_CONCURRENCY turns at once (one batch's tail, its last blocks and its flush,
   * overlaps the next one's start). A turn for the fellows asks the ones holding the batch;
   * what they lack, and a turn for the publisher, comes from the peers that are not fellows. A worker with nothing to do waits for news from the swarm.
   */
  private async fetchChunks (seq: number, list: ChunkSorter, size: number, swarm: VersionSwarm | undefined): Promise<void> {
    const { batches, spans, presentBytes } = list
    const order = new BatchOrder(batches.length, this.init.offset ?? 0)
    let walkedBytes = presentBytes
    let storedBytes = 0
    let chunks = 0
    let failure: unknown
    const stored = new Uint8Array(batches.length)
    const fromPublisher = new Set<number>()
    const advertise = (): void => {
      swarm?.advertise(ownRanges(spans, list.total, i => stored[i] === 1 ? 'stored' : fromPublisher.has(i) ? 'fetching' : undefined, MAX_HAVE_RANGES))
    }
    // fellows that start with this node speak within a moment: until then, as if they had (one publisher turn)
    const graceEnd = performance.now() + SWARM_GRACE_MS
    const knowledge: SwarmKnowledge = swarm === undefined
      ? NO_FELLOWS
      : {
          get fellows () { return swarm.view.size > 0 || performance.now() < graceEnd },
          held: i => swarm.view.holders(spans[i].first, spans[i].end).length > 0,
          claimed: i => swarm.view.claimed(spans[i].first, spans[i].end),
          get rank () {
            const active = swarm.view.active()
            if (active.length === 0) return undefined
            const all = [...active, swarm.self].sort()
            return { index: all.indexOf(swarm.self), of: all.length }
          }
        }
    // waiting workers wake on news: a fellow's changed statement, a batch of ours done, a failure
    let news = Promise.withResolvers<void>()
    const notify = (): void => {
      const heard = news
      news = Promise.withResolvers()
      heard.resolve()
    }
    const unsubscribe = swarm?.view.subscribe(notify)
    advertise()
    const runBatch = async (turn: BatchTurn): Promise<void> => {
      const batch = batches[turn.index]
      const span = spans[turn.index]
      const list = unpackCids(batch)
      const have = await this.init.store.hasMany(list)
      let missing = list.filter((_, i) => !have[i])
      if (missing.length > 0) {
        let got = 0
        const holders = turn.from === 'fellows' && swarm !== undefined ? swarm.view.holders(span.first, span.end) : []
        if (holders.length > 0) {
          // no deadline: a fellow that said it holds the batch is slow only when its machine is
          // busy, and the publisher would send the rest again; one that is gone or lacks blocks
          // says so at once, and one that stalls is dropped by the exchange's idle timeout
          const r = await this.fetch(missing, 'chunk', { peers: holders.map(k => swarm!.peer(k)), partial: true })
          got += r.bytes
          missing = r.missing
        }
        if (missing.length > 0) {
          fromPublisher.add(turn.index)
          advertise()
          // the fellows said what they hold: the rest is for the publisher and peers not in the swarm
          const fellows = new Set(swarm?.view.peers() ?? [])
          const others = this.init.peers().filter(p => !fellows.has(p.toString()))
          try {
            got += (await this.fetch(missing, 'chunk', others.length > 0 ? { peers: others } : {})).bytes
          } finally {
            fromPublisher.delete(turn.index)
          }
        }
        await this.init.store.flush({ signal: this.init.signal })
        storedBytes += got
        chunks += list.length - have.filter(Boolean).length
      }
      stored[turn.index] = 1
      order.done(turn)
      advertise()
      notify()
      walkedBytes += batch.bytes
      this.emit({ type: 'sync:batch:stored', bucket: this.bucket, seq, walkedBytes, size, chunks, bytes: this.report.bytes, storedBytes })
    }
    const worker = async (): Promise<void> => {
      /** Since when this worker has waited without news (a fellow that claims and never delivers must not stall the sync). */
      let quietSince: number | undefined
      while (failure === undefined) {
        const patient = quietSince === undefined || performance.now() - quietSince < SWARM_STALL_MS
        const turn = order.next(knowledge, patient)
        if (turn === undefined) return
        if (turn === 'wait') {
          quietSince ??= performance.now()
          // claims lapse without news, and the grace ends: look again at least then
          const left = graceEnd - performance.now()
          if (await this.waitFor(news.promise, left > 0 ? left + 1 : HAVE_CLAIM_TTL_MS)) quietSince = undefined
          continue
        }
        quietSince = undefined
        // the rate limit gates the start of each batch
        await this.throttle()
        await runBatch(turn)
      }
    }
    try {
      await Promise.all(Array.from({ length: CHUNK_BATCH_CONCURRENCY }, async () => {
        await worker().catch((err: unknown) => { failure ??= err; notify() })
      }))
    } finally {
      unsubscribe?.()
    }
    if (failure !== undefined) throw failure
  }

  /** Wait for `event` (true) or `ms` (false), whichever comes first; rejects when the sync is aborted. */
  private async waitFor (event: Promise<void>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const signal = this.init.signal
    let onAbort: (() => void) | undefined
    try {
      return await Promise.race([
        event.then(() => true),
        new Promise<boolean>((resolve, reject) => {
          timer = setTimeout(() => { resolve(false) }, ms)
          onAbort = () => { reject(signal!.reason) }
          signal?.addEventListener('abort', onAbort, { once: true })
        })
      ])
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Keep the average receive rate under `maxRate` by pausing before a batch starts. */
  private async throttle (): Promise<void> {
    const rate = this.init.maxRate
    if (rate === undefined || rate <= 0) return
    const due = this.report.bytes / rate * 1000 - (performance.now() - this.started)
    if (due > 0) await this.sleep(due)
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const signal = this.init.signal
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
      const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async block (cid: CID, kind: 'record'): Promise<Uint8Array> {
    if (!await this.init.store.has(cid)) await this.fetch([cid], kind)
    return await this.init.store.get(cid)
  }

  /**
   * Fetch `cids` from every peer (or `options.peers`); missing blocks fail the sync unless
   * `options.partial` (fellows asked first may lack them), when they come back in the report.
   */
  private async fetch (cids: CID[], kind: 'record' | 'node' | 'chunk', options: { peers?: FetchPeer[], partial?: boolean } = {}): Promise<FetchReport> {
    this.init.signal?.throwIfAborted()
    const peers = options.peers ?? this.init.peers()
    const fallback = options.partial === true ? undefined : this.init.fallback
    if (peers.length === 0 && fallback === undefined) throw new RokError(SyncErrorCode.BLOCKS_MISSING, `no peer to fetch ${this.bucket} from`)
    let report: FetchReport = peers.length === 0
      ? { blocks: 0, bytes: 0, peers: [], missing: cids }
      // a record and manifest nodes do not wait for a data channel's handshake (see FetchOptions.small);
      // every caller fetches what `has`/`hasMany` found missing, under the sync's gc lease (FetchOptions.absent)
      : await this.init.fetch(cids, { peers, signal: this.init.signal, small: kind !== 'chunk', absent: true })
    if (report.missing.length > 0 && fallback !== undefined) {
      const filled = await fallback(report.missing, this.init.signal)
      if (filled.stored.length > 0) {
        const stored = new Set(filled.stored.map(c => c.toString()))
        report = {
          blocks: report.blocks + filled.stored.length,
          bytes: report.bytes + filled.bytes,
          peers: [...report.peers, { peer: OBJECT_STORE_SOURCE, blocks: filled.stored.length, bytes: filled.bytes } satisfies PeerFetchStats],
          missing: report.missing.filter(c => !stored.has(c.toString()))
        }
      }
    }
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
    if (report.missing.length > 0 && options.partial !== true) {
      // every peer asked failed to open a stream: say so, not that the blocks are missing
      if (report.peers.length > 0 && report.peers.every(p => p.dropped?.code === SyncErrorCode.PEER_UNREACHABLE)) throw this.unreachable(report.peers)
      const why = report.peers.filter(p => p.dropped !== undefined).map(p => `${p.peer}: ${p.dropped!.message}`).join('; ')
      throw new RokError(SyncErrorCode.BLOCKS_MISSING,
        `${report.missing.length} ${kind}${report.missing.length === 1 ? '' : 's'} of ${this.bucket} could not be fetched from ${peers.length} peer${peers.length === 1 ? '' : 's'}${why === '' ? ' (they refused or do not have them: is this node allowed on the bucket?)' : ` (${why})`}`,
        { details: { bucket: this.bucket, missing: report.missing.slice(0, 10).map(c => c.toString()) } })
    }
    return report
  }

  private unreachable (peers: PeerFetchStats[]): RokError {
    const who = peers.length === 1 ? `the peer ${peers[0].peer}` : `any of the ${peers.length} peers`
    return new RokError(SyncErrorCode.PEER_UNREACHABLE,
      `could not reach ${who} to fetch ${this.bucket} (${peers.map(p => p.dropped!.message).join('; ')}): is its node running and reachable? The sync resumes from what it stored ('rok sync ${this.bucket}')`,
      { details: { bucket: this.bucket, peers: peers.map(p => p.peer) } })
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
