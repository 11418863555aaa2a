/**
 * One `fetchBlocks` call: a queue of wanted CIDs shared by one session per peer. Each
 * session takes the next CID it has not been refused, so fast peers take more work.
 * Received blocks are verified (see BlockVerifier) and stored; a bad block drops its
 * peer and the CID goes back to the queue for the others. The fetch ends when every CID
 * is stored or no live peer is left that might serve it.
 */
import { RokError } from '../../../protocol/errors.ts'
import { EXCHANGE_ASSUMED_BLOCK_BYTES, EXCHANGE_INFLIGHT_BYTES, EXCHANGE_MAX_WINDOW, EXCHANGE_MIN_WINDOW } from '../constants.ts'
import { P2PErrorCode } from '../errors.ts'
import { PeerSession } from './session.ts'
import { cidKey, type CID } from '../../../protocol/cid.ts'
import type { BlockArena } from './block-arena.ts'
import type { BlockVerifier } from './verify.ts'
import type { ExchangeStream } from './stream-frames.ts'
import type { FetchOptions, FetchProgressEvent, FetchReport, PeerFetchStats } from './index.ts'
import type { BlockStore } from '../../store/types.ts'
import type { Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A peer's id string; an address without /p2p/ is known by the address itself. */
export function peerKey (peer: PeerId | Multiaddr): string {
  if ('getComponents' in peer) {
    return peer.getComponents().find(c => c.name === 'p2p')?.value ?? peer.toString()
  }
  return peer.toString()
}

/** An exchange stream to a peer, and which transport carries it. */
export interface OpenedStream { stream: ExchangeStream, channel: 'data' | 'stream' }

export interface FetchSettings {
  store: Pick<BlockStore, 'put' | 'putMany' | 'putRun'>
  /** Opens a session's stream: the data channel when it can, else a libp2p stream. */
  open: (peer: PeerId | Multiaddr, signal: AbortSignal, small: boolean) => Promise<OpenedStream>
  /** A fixed window in blocks; undefined adapts it to the block sizes seen. */
  window: number | undefined
  openTimeout: number
  idleTimeout: number
  maxUnstoredBytes: number
  verifier: BlockVerifier
  /** Where data-channel blocks are received: each goes back once stored or dropped. */
  arena: Pick<BlockArena, 'release' | 'pageSpan'> | undefined
  log: Logger
}

export type EntryState = 'queued' | 'inflight' | 'verifying' | 'done' | 'missing'

export interface WantedBlock {
  cid: CID
  /** cidKey of the CID: the key of every map on the receive path. */
  key: string
  state: EntryState
  /** Index of this entry's live slot in the queue. */
  slot: number
  /** Sessions (peer keys) that refused it or were dropped while holding it; made on the first. */
  excluded: Set<string> | undefined
}

/** A verified block waiting for the store, and the session that brought it. */
interface VerifiedBlock { entry: WantedBlock, bytes: Uint8Array, session: PeerSession }

/** The blocks of one RUN frame, stored together once all of them are verified (BlockStore.putRun). */
interface ReceivedRun {
  /** The frame's entries (every block behind its pack entry header, as a pack holds them) and the room after them. */
  span: Uint8Array
  /** Bytes of `span` the entries take. */
  used: number
  verified: VerifiedBlock[]
  /** Blocks not yet checked. */
  waiting: number
  /** A block did not match its CID: the others are stored one by one. */
  failed: boolean
}

export class Fetch {
  readonly settings: FetchSettings
  private readonly options: FetchOptions
  private readonly entries = new Map<string, WantedBlock>()
  /** Append-only; a requeued entry gets a new slot at the end, its old slot goes stale. */
  private readonly slots: WantedBlock[] = []
  private readonly sessions: PeerSession[] = []
  private readonly stats = new Map<PeerSession, PeerFetchStats>()
  private settled = 0
  private blocks = 0
  private bytes = 0
  private unstoredBytes = 0
  /** Blocks and bytes received (verified or not), for the adaptive window. */
  private receivedBlocks = 0
  private receivedBytes = 0
  private readonly missing: CID[] = []
  /** Verified blocks waiting for the next putMany (one store call per event-loop turn), released to the arena once stored. */
  private storing: VerifiedBlock[] = []
  /** Runs whose blocks are all verified, for the next turn's store calls. */
  private storingRuns: ReceivedRun[] = []
  private storeScheduled = false
  private readonly result: PromiseWithResolvers<FetchReport> = Promise.withResolvers()
  private finished = false

  /** See FetchOptions.small. */
  get small (): boolean {
    return this.options.small === true
  }

  constructor (settings: FetchSettings, cids: Iterable<CID>, options: FetchOptions) {
    this.settings = settings
    this.options = options
    for (const cid of cids) {
      const key = cidKey(cid.bytes)
      if (this.entries.has(key)) continue
      const entry: WantedBlock = { cid, key, state: 'queued', slot: this.slots.length, excluded: undefined }
      this.entries.set(key, entry)
      this.slots.push(entry)
    }
  }

  async run (): Promise<FetchReport> {
    const signal = this.options.signal
    signal?.throwIfAborted()
    if (this.options.peers.length === 0) throw new RokError(P2PErrorCode.NO_PEERS, 'fetchBlocks needs at least one peer')
    if (this.entries.size === 0) return { blocks: 0, bytes: 0, peers: [], missing: [] }
    const onAbort = (): void => { this.abort(signal?.reason as Error) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const seen = new Set<string>()
    for (const peer of this.options.peers) {
      const key = peerKey(peer)
      if (seen.has(key)) continue
      seen.add(key)
      const session = new PeerSession(this, peer, key)
      this.sessions.push(session)
      this.stats.set(session, { peer: key, blocks: 0, bytes: 0 })
    }
    for (const session of this.sessions) session.start(signal)
    try {
      return await this.result.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** The next queued CID this session may ask for, or undefined (cursor is the session's). */
  take (session: PeerSession): WantedBlock | undefined {
    if (this.unstoredBytes > this.settings.maxUnstoredBytes) return undefined
    for (; session.cursor < this.slots.length; session.cursor++) {
      const entry = this.slots[session.cursor]
      if (entry.state === 'queued' && entry.slot === session.cursor && entry.excluded?.has(session.key) !== true) {
        session.cursor++
        entry.state = 'inflight'
        return entry
      }
    }
    return undefined
  }

  /** A session's stream is open: its stats say which transport carries it. */
  sessionOpened (session: PeerSession): void {
    const stats = this.stats.get(session)
    if (stats !== undefined && session.channel !== undefined) stats.channel = session.channel
  }

  /** A session gave an entry back (refused, or the session died): offer it to the others. */
  requeue (entry: WantedBlock, from: PeerSession): void {
    if (this.finished || entry.state !== 'inflight') return
    (entry.excluded ??= new Set()).add(from.key)
    if (!this.servable(entry)) {
      this.markMissing(entry)
      return
    }
    entry.state = 'queued'
    entry.slot = this.slots.length
    this.slots.push(entry)
    this.wakeSessions()
  }

  /**
   * Wants to keep in flight per session: a fixed window, or EXCHANGE_INFLIGHT_BYTES worth
   * of blocks, but never more than a fair share of the fetch, so the peer whose stream
   * opens first does not take every want of a small fetch before the others start.
   */
  window (): number {
    if (this.settings.window !== undefined) return this.settings.window
    const average = this.receivedBlocks === 0 ? EXCHANGE_ASSUMED_BLOCK_BYTES : this.receivedBytes / this.receivedBlocks
    const share = Math.ceil(this.entries.size / Math.max(1, this.sessions.length))
    const window = Math.min(EXCHANGE_MAX_WINDOW, share, Math.floor(EXCHANGE_INFLIGHT_BYTES / Math.max(1, average)))
    return Math.max(EXCHANGE_MIN_WINDOW, window)
  }

  /**
   * A block arrived for an entry `session` had in flight: verify it (on the hash worker
   * when it can), then store it with the other blocks verified in the same turn (one putMany: one
   * index lookup and one pass through the store's write queue instead of one per block).
   */
  receive (entry: WantedBlock, bytes: Uint8Array, session: PeerSession): void {
    this.received(entry, bytes)
    this.settings.verifier.check(entry.cid, bytes, (ok) => { this.verified(entry, bytes, ok, session) })
  }

  /**
   * Blocks of a RUN frame arrived for entries `session` had in flight; `body` is the frame's
   * when they are all of its blocks. When the body was received onto a page with room
   * after it (BlockArena.pageSpan) and the store can take its entries as they lie (putRun,
   * for blocks found absent), they are stored together once all are verified; otherwise
   * each goes its own way, as with `receive`.
   */
  receiveRun (blocks: Array<[WantedBlock, Uint8Array]>, body: Uint8Array | undefined, session: PeerSession): void {
    // the type byte is not an entry
    const span = body === undefined || this.settings.store.putRun === undefined || this.options.absent !== true ? undefined : this.settings.arena?.pageSpan(body, 1)
    if (span === undefined) {
      for (const [entry, bytes] of blocks) this.receive(entry, bytes, session)
      return
    }
    // the entries end where the body's last block does
    const last = blocks[blocks.length - 1][1]
    const run: ReceivedRun = { span, used: last.byteOffset + last.byteLength - span.byteOffset, verified: [], waiting: blocks.length, failed: false }
    for (const [entry, bytes] of blocks) {
      this.received(entry, bytes)
      this.settings.verifier.check(entry.cid, bytes, (ok) => { this.runBlockVerified(run, { entry, bytes, session }, ok) })
    }
  }

  private received (entry: WantedBlock, bytes: Uint8Array): void {
    entry.state = 'verifying'
    this.receivedBlocks++
    this.receivedBytes += bytes.byteLength
    this.unstoredBytes += bytes.byteLength
  }

  /** `bytes` were checked against their CID: store them with the others of this turn, or drop the peer. */
  private verified (entry: WantedBlock, bytes: Uint8Array, ok: boolean, session: PeerSession): void {
    if (!ok || this.finished) {
      this.unstoredBytes -= bytes.byteLength
      this.settings.arena?.release(bytes)
      if (!ok) this.rejectBlock(entry, session)
      return
    }
    this.storing.push({ entry, bytes, session })
    this.scheduleStore()
  }

  private runBlockVerified (run: ReceivedRun, block: VerifiedBlock, ok: boolean): void {
    if (ok) run.verified.push(block)
    else {
      run.failed = true
      this.verified(block.entry, block.bytes, false, block.session)
    }
    if (--run.waiting > 0) return
    if (run.failed || this.finished) {
      for (const b of run.verified) this.verified(b.entry, b.bytes, true, b.session)
      return
    }
    this.storingRuns.push(run)
    this.scheduleStore()
  }

  /** One store pass at the end of this turn, for everything verified in it. */
  private scheduleStore (): void {
    if (this.storeScheduled) return
    this.storeScheduled = true
    setImmediate(() => {
      this.storeScheduled = false
      this.storeVerified()
    })
  }

  /** The bytes are wrong: this peer is out of the fetch, the block goes to another. */
  private rejectBlock (entry: WantedBlock, session: PeerSession): void {
    entry.state = 'inflight'
    session.drop(new RokError(P2PErrorCode.PEER_SENT_BAD_BLOCK, `peer ${session.key} sent bytes that do not match ${entry.cid.toString()}`, { details: { cid: entry.cid.toString(), peer: session.key } }))
    this.requeue(entry, session)
    this.wakeSessions()
  }

  private storeVerified (): void {
    const batch = this.storing
    const runs = this.storingRuns
    this.storing = []
    this.storingRuns = []
    const all = runs.length === 0 ? batch : batch.concat(...runs.map(r => r.verified))
    if (all.length === 0 || this.finished) {
      this.unstore(all)
      return
    }
    const { store } = this.settings
    const signal = this.options.signal
    const stores: Array<Promise<unknown>> = []
    if (batch.length > 0) {
      stores.push(store.putMany !== undefined
        ? store.putMany(batch.map(b => [b.entry.cid, b.bytes]), { signal, absent: this.options.absent })
        : Promise.all(batch.map(async b => await store.put(b.entry.cid, b.bytes, { signal }))))
    }
    for (const run of runs) stores.push(store.putRun!(run.span, run.used, run.verified.map((b): [CID, Uint8Array] => [b.entry.cid, b.bytes]), { signal, absent: true }))
    // every store call settled before any memory is released: a failed one must not free what another still writes from
    void Promise.allSettled(stores).then((results) => {
      const failed = results.find(r => r.status === 'rejected')
      if (failed !== undefined) {
        this.unstore(all)
        this.abort(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, `storing ${all.length} blocks failed`, { cause: failed.reason }))
        return
      }
      // settled before they are released: a released block's memory may already hold another
      for (const b of all) this.settle(b.entry, 'done', b.bytes.byteLength, b.session)
      this.unstore(all)
      this.wakeSessions()
    })
  }

  /** The store is done with these blocks (or they will not be stored): their memory is free. */
  private unstore (batch: VerifiedBlock[]): void {
    const arena = this.settings.arena
    for (const b of batch) {
      this.unstoredBytes -= b.bytes.byteLength
      arena?.release(b.bytes)
    }
  }

  private settle (entry: WantedBlock, state: 'done' | 'missing', bytes: number, session?: PeerSession): void {
    entry.state = state
    this.settled++
    if (state === 'done' && session !== undefined) {
      this.blocks++
      this.bytes += bytes
      const stats = this.stats.get(session)
      if (stats !== undefined) {
        stats.blocks++
        stats.bytes += bytes
      }
      // no event object per block unless someone listens
      if (this.options.onProgress !== undefined) this.emit({ type: 'exchange:block:received', detail: { cid: entry.cid, peer: session.key, bytes } })
    }
    if (this.settled === this.entries.size) this.finish()
  }

  private markMissing (entry: WantedBlock): void {
    this.missing.push(entry.cid)
    this.emit({ type: 'exchange:block:missing', detail: { cid: entry.cid } })
    this.settle(entry, 'missing', 0)
  }

  private servable (entry: WantedBlock): boolean {
    return this.sessions.some(s => s.alive && entry.excluded?.has(s.key) !== true)
  }

  /** A session ended with an error: record why and re-offer what it held. */
  sessionDropped (session: PeerSession, err: Error, held: WantedBlock[]): void {
    const stats = this.stats.get(session)
    const code = (err as { code?: string }).code ?? 'ERR_UNKNOWN'
    if (stats !== undefined) stats.dropped = { code, message: err.message }
    this.settings.log('dropped peer %s from fetch: %s', session.key, err.message)
    this.emit({ type: 'exchange:peer:dropped', detail: { peer: session.key, code, message: err.message } })
    for (const entry of held) this.requeue(entry, session)
    if (this.finished) return
    // queued entries only this session could still have served are now missing
    for (const entry of this.entries.values()) {
      if (entry.state === 'queued' && !this.servable(entry)) this.markMissing(entry)
    }
  }

  private wakeSessions (): void {
    for (const session of this.sessions) if (session.alive) session.fill()
  }

  private emit (event: FetchProgressEvent): void {
    try {
      this.options.onProgress?.(event)
    } catch (err) {
      this.settings.log.error('onProgress threw: %e', err)
    }
  }

  private finish (): void {
    if (this.finished) return
    this.finished = true
    for (const session of this.sessions) session.close()
    this.result.resolve({
      blocks: this.blocks,
      bytes: this.bytes,
      peers: [...this.stats.values()],
      missing: this.missing
    })
  }

  private abort (reason: Error): void {
    if (this.finished) return
    this.finished = true
    for (const session of this.sessions) session.close(reason)
    this.result.reject(reason)
  }
}
