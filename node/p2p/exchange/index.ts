/**
 * Chunk exchange: moves blocks (chunks and manifest nodes) between Rok nodes over
 * `/rok/exchange/1.1.0` (wire format in protocol/exchange.ts).
 *
 * - The **server** answers a peer's wants from the local store, only for CIDs the
 *   `authorize` hook allows that peer (closed by default). Refused and missing blocks get
 *   the same DONT_HAVE, so a peer learns nothing about blocks it may not have.
 * - The **client** (`fetchBlocks`) asks several peers at once, many blocks in flight on
 *   each stream, verifies every block against its CID before storing it, drops a peer that
 *   sends bad bytes (for that fetch) and gets the block from another peer. Over the data
 *   channel, blocks are received into recycled memory (block-arena.ts), given back once
 *   the store's put settles, so the store must copy what it keeps.
 *
 * Terms: a *want* asks a peer for a block (or only whether it has it); a *session* is one
 * fetch's stream to one peer; a peer is *dropped* when its session ends with an error.
 *
 * Use as a libp2p service: `services: { exchange: chunkExchange({ store, authorize }) }`.
 */
import { ChunkExchangeService } from './exchange.ts'
import type { CID } from '../../../protocol/cid.ts'
import type { BlockStore } from '../../store/types.ts'
import type { AbortOptions, ComponentLogger, Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { EXCHANGE_PROTOCOL } from '../../../protocol/exchange.ts'

/** Decides whether `peer` may receive `cid`. May be async (e.g. a grant lookup). */
export type AuthorizeFn = (peer: PeerId, cid: CID) => boolean | Promise<boolean>

export interface ChunkExchangeInit {
  /**
   * Where served blocks are read from and fetched blocks written to. Runs of served
   * blocks are read with `getManyUnverified` when the store has it: every fetching peer
   * checks each block against its CID, so the serving side does not hash it again.
   */
  store: Pick<BlockStore, 'get' | 'has' | 'put' | 'getMany' | 'getManyUnverified' | 'putMany'>
  /**
   * Who may receive what. Every served block (and every have-answer) passes through it.
   *
   * @default () => false (serve nobody)
   */
  authorize?: AuthorizeFn
  /**
   * The bulk data channel (see data-channel/): block payloads move over a direct TLS 1.3
   * socket negotiated over libp2p, with libp2p streams as the fallback. `false` turns it
   * off both ways (this node neither offers nor uses one). Without `host` the node only
   * uses peers' channels and offers none (e.g. a node that does not listen).
   *
   * @default { host: undefined, port: 0 } (on; see DATA_CHANNEL_ENABLED)
   */
  dataChannel?: false | { host?: string, port?: number }
  /** @default EXCHANGE_MAX_INBOUND_STREAMS (16) per connection */
  maxInboundStreams?: number
  /** @default EXCHANGE_MAX_OUTBOUND_STREAMS (16) per connection */
  maxOutboundStreams?: number
  /** Wants held for one inbound stream before the peer is called a flooder. @default EXCHANGE_MAX_PENDING_WANTS (4096) */
  maxPendingWants?: number
  /** Wants served concurrently per inbound stream. @default EXCHANGE_SERVE_CONCURRENCY (8) */
  serveConcurrency?: number
  /**
   * Blocks in flight per peer in a fetch. By default it adapts to the block sizes seen:
   * EXCHANGE_INFLIGHT_BYTES (16 MiB) worth, between 4 and 1024 blocks.
   */
  window?: number
  /** Close an exchange stream with no traffic for this long. @default EXCHANGE_IDLE_TIMEOUT_MS (30 s) */
  idleTimeout?: number
  /** Deadline for serving one want (authorize + store read). @default EXCHANGE_WANT_TIMEOUT_MS (20 s) */
  wantTimeout?: number
  /** Deadline for opening a stream to a peer. @default EXCHANGE_OPEN_TIMEOUT_MS (10 s) */
  openTimeout?: number
  /**
   * Hash blocks received over the data channel on a worker thread, off the event loop that
   * reads the streams: they are received into shared memory and hashed where they lie, a
   * message per batch of blocks. Blocks from libp2p streams are hashed on the event loop.
   *
   * @default EXCHANGE_HASH_WORKER (true)
   */
  hashWorker?: boolean
  /** Received bytes awaiting verification/storage before the fetch stops asking. @default EXCHANGE_MAX_UNSTORED_BYTES (64 MiB) */
  maxUnstoredBytes?: number
  /**
   * Bytes per second this node serves, over all peers and streams together (one token
   * bucket); a block waits for its turn before it is sent. @default unlimited
   */
  maxUploadRate?: number
}

/** What the exchange needs from libp2p (the service's injected components). */
export interface ChunkExchangeComponents {
  registrar: {
    handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
    unhandle: (protocol: string, options?: AbortOptions) => Promise<void>
  }
  connectionManager: {
    openStream: (peer: PeerId | Multiaddr, protocol: string, options?: AbortOptions) => Promise<Stream>
    openConnection: (peer: PeerId | Multiaddr, options?: AbortOptions) => Promise<Connection>
  }
  logger: ComponentLogger
}

export type FetchProgressEvent =
  | { type: 'exchange:block:received', detail: { cid: CID, peer: string, bytes: number } }
  | { type: 'exchange:block:missing', detail: { cid: CID } }
  | { type: 'exchange:peer:dropped', detail: { peer: string, code: string, message: string } }

export interface FetchOptions extends AbortOptions {
  /** Peers to ask, by id (dialled through the peer store) or by address. */
  peers: Array<PeerId | Multiaddr>
  onProgress?: (event: FetchProgressEvent) => void
  /**
   * A few small blocks (a version record, manifest nodes): sent over a libp2p stream unless
   * a data channel to the peer is open already, which is then opened in the background for
   * the fetches that follow. Waiting for its handshake would cost such a fetch more than
   * the channel saves. @default false
   */
  small?: boolean
  /**
   * The caller found every CID absent from the store just before, under a gc lease (a
   * sync does): received blocks are stored without the store's own presence lookup (see
   * PutManyOptions.absent). @default false
   */
  absent?: boolean
}

export interface PeerFetchStats {
  /** Peer id string (or the multiaddr string when dialled by address and never identified). */
  peer: string
  blocks: number
  bytes: number
  /** Why the peer was dropped from this fetch, if it was. */
  dropped?: { code: string, message: string }
  /** What carried the blocks: the data channel or a libp2p stream (absent when no stream opened). */
  channel?: 'data' | 'stream'
}

export interface FetchReport {
  /** Blocks received, verified and stored (a block the store already had counts too). */
  blocks: number
  bytes: number
  /** Which peer served how many blocks and bytes, and which were dropped and why. */
  peers: PeerFetchStats[]
  /** CIDs no live peer would serve (every asked peer said DONT_HAVE or was dropped). */
  missing: CID[]
}

export interface ServeStats {
  streams: number
  blocks: number
  bytes: number
  /** Of `blocks`, those sent in RUN frames (stored together, sent as they lie on disk). */
  runBlocks: number
  refused: number
  /** Inbound streams closed because the peer broke the protocol or a bound. */
  rejectedStreams: number
  /** The upload cap in bytes per second, when one is set. */
  maxUploadRate?: number
  /** The data channel this node offers (absent when it offers none). */
  dataChannel?: {
    /** TCP port it listens on. */
    port: number
    /** Sockets accepted with a valid ticket, and refused (bad, used or expired ticket, or none in time). */
    accepted: number
    refused: number
    /** Of the blocks and bytes above, those served over the data channel. */
    blocks: number
    bytes: number
  }
}

export interface ChunkExchange {
  /**
   * Fetch `cids` from `options.peers` in parallel, verify each, store it. Resolves when
   * every CID is stored or known missing; rejects only when aborted or given no peers.
   */
  fetchBlocks: (cids: Iterable<CID>, options: FetchOptions) => Promise<FetchReport>
  /** Counters of what this node served. */
  serveStats: () => ServeStats
}

export function chunkExchange (init: ChunkExchangeInit): (components: ChunkExchangeComponents) => ChunkExchange {
  return (components) => new ChunkExchangeService(components, init)
}
