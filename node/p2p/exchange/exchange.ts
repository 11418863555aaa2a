/** The libp2p service behind `chunkExchange()`: registers the server handler, runs fetches. */
import { DATA_CHANNEL_PROTOCOL, encodeOffer } from '../../../protocol/data-channel.ts'
import { EXCHANGE_PROTOCOL } from '../../../protocol/exchange.ts'
import {
  DATA_CHANNEL_CONNECT_TIMEOUT_MS, DATA_CHANNEL_ENABLED, DATA_CHANNEL_HANDSHAKE_TIMEOUT_MS, DATA_CHANNEL_IDLE_MS,
  DATA_CHANNEL_MAX_CONNECTIONS, DATA_CHANNEL_MAX_INBOUND_STREAMS, DATA_CHANNEL_MAX_TICKETS, DATA_CHANNEL_RETRY_MS,
  DATA_CHANNEL_TICKET_TTL_MS, EXCHANGE_IDLE_TIMEOUT_MS, EXCHANGE_MAX_INBOUND_STREAMS, EXCHANGE_MAX_OUTBOUND_STREAMS, EXCHANGE_MAX_PENDING_WANTS,
  EXCHANGE_MAX_UNSTORED_BYTES, EXCHANGE_OPEN_TIMEOUT_MS, EXCHANGE_SERVE_CONCURRENCY, EXCHANGE_WANT_TIMEOUT_MS, EXCHANGE_HASH_WORKER
} from '../constants.ts'
import { DataChannelClient } from './data-channel/client.ts'
import { DataChannelServer } from './data-channel/server.ts'
import { Fetch, type FetchSettings, type OpenedStream } from './fetch.ts'
import { ServerStream, type ServerStreamOptions } from './server.ts'
import { UploadLimit } from './upload-limit.ts'
import { RunBuffers } from './run-buffers.ts'
import { BlockVerifier } from './verify.ts'
import type { ChunkExchange, ChunkExchangeComponents, ChunkExchangeInit, FetchOptions, FetchReport, ServeStats } from './index.ts'
import type { CID } from '../../../protocol/cid.ts'
import type { ExchangeStream } from './stream-frames.ts'
import type { Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const closed = (): boolean => false

export class ChunkExchangeService implements ChunkExchange, Startable {
  private readonly components: ChunkExchangeComponents
  private readonly init: ChunkExchangeInit
  private readonly stats: ServeStats = { streams: 0, blocks: 0, bytes: 0, runBlocks: 0, refused: 0, rejectedStreams: 0 }
  private readonly servers = new Set<ServerStream>()
  private readonly serverOptions: ServerStreamOptions
  private readonly fetchSettings: FetchSettings
  private readonly verifier: BlockVerifier
  private readonly log: Logger
  /** What this node serves over its data channel, and the channel's socket counts. */
  private readonly dataStats = { accepted: 0, refused: 0, blocks: 0, bytes: 0 }
  private readonly dataServer: DataChannelServer | undefined
  private readonly dataClient: DataChannelClient | undefined

  constructor (components: ChunkExchangeComponents, init: ChunkExchangeInit) {
    this.components = components
    this.init = init
    const log = components.logger.forComponent('rok:exchange')
    this.log = log
    // an idle worker has let go of the arena's shared slabs: the spare ones can go too
    this.verifier = new BlockVerifier(init.hashWorker ?? EXCHANGE_HASH_WORKER, () => { this.dataClient?.arena.trim() })
    const idleTimeout = init.idleTimeout ?? EXCHANGE_IDLE_TIMEOUT_MS
    if (init.maxUploadRate !== undefined) this.stats.maxUploadRate = init.maxUploadRate
    this.serverOptions = {
      store: init.store,
      authorize: init.authorize ?? closed,
      maxPendingWants: init.maxPendingWants ?? EXCHANGE_MAX_PENDING_WANTS,
      concurrency: init.serveConcurrency ?? EXCHANGE_SERVE_CONCURRENCY,
      wantTimeout: init.wantTimeout ?? EXCHANGE_WANT_TIMEOUT_MS,
      idleTimeout,
      stats: this.stats,
      uploadLimit: init.maxUploadRate === undefined ? undefined : new UploadLimit(init.maxUploadRate),
      runBuffers: new RunBuffers(),
      log
    }
    const dataChannel = init.dataChannel ?? (DATA_CHANNEL_ENABLED ? {} : false)
    if (dataChannel !== false) {
      this.dataClient = new DataChannelClient({
        openConnection: async (peer, o) => await components.connectionManager.openConnection(peer, o),
        connectTimeout: DATA_CHANNEL_CONNECT_TIMEOUT_MS,
        idleTimeout: DATA_CHANNEL_IDLE_MS,
        retryAfter: DATA_CHANNEL_RETRY_MS,
        sharedArena: this.verifier.sharedMemory,
        log
      })
      if (dataChannel.host !== undefined) {
        const options: ServerStreamOptions = { ...this.serverOptions, channelStats: this.dataStats }
        this.dataServer = new DataChannelServer({
          host: dataChannel.host,
          port: dataChannel.port ?? 0,
          handshakeTimeout: DATA_CHANNEL_HANDSHAKE_TIMEOUT_MS,
          ticketTtl: DATA_CHANNEL_TICKET_TTL_MS,
          maxTickets: DATA_CHANNEL_MAX_TICKETS,
          maxConnections: DATA_CHANNEL_MAX_CONNECTIONS,
          onStream: (stream, peer) => { this.serve(stream, peer, options) },
          stats: this.dataStats,
          log
        })
      }
    }
    this.fetchSettings = {
      store: init.store,
      open: async (peer, signal, small) => await this.openExchange(peer, signal, small),
      window: init.window,
      openTimeout: init.openTimeout ?? EXCHANGE_OPEN_TIMEOUT_MS,
      idleTimeout,
      maxUnstoredBytes: init.maxUnstoredBytes ?? EXCHANGE_MAX_UNSTORED_BYTES,
      verifier: this.verifier,
      arena: this.dataClient?.arena,
      log
    }
  }

  readonly [Symbol.toStringTag] = '@rok/chunk-exchange'

  async start (): Promise<void> {
    const server = this.dataServer
    if (server !== undefined) {
      await server.start()
      await this.components.registrar.handle(DATA_CHANNEL_PROTOCOL, (stream: Stream, connection: Connection) => {
        this.offer(stream, connection.remotePeer)
      }, { maxInboundStreams: DATA_CHANNEL_MAX_INBOUND_STREAMS, maxOutboundStreams: DATA_CHANNEL_MAX_INBOUND_STREAMS })
    }
    await this.components.registrar.handle(EXCHANGE_PROTOCOL, (stream: Stream, connection: Connection) => {
      this.serve(stream, connection.remotePeer, this.serverOptions)
    }, {
      maxInboundStreams: this.init.maxInboundStreams ?? EXCHANGE_MAX_INBOUND_STREAMS,
      maxOutboundStreams: this.init.maxOutboundStreams ?? EXCHANGE_MAX_OUTBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(EXCHANGE_PROTOCOL)
    if (this.dataServer !== undefined) {
      await this.components.registrar.unhandle(DATA_CHANNEL_PROTOCOL)
      await this.dataServer.stop()
    }
    this.dataClient?.close()
    await this.verifier.stop()
  }

  /** A peer asks for the data channel: a one-time ticket bound to the peer this stream is authenticated as. */
  private offer (stream: Stream, peer: PeerId): void {
    const offer = this.dataServer?.issue(peer)
    if (offer === undefined) {
      stream.abort(new Error('no data channel'))
      return
    }
    stream.send(encodeOffer(offer))
    stream.close({ signal: AbortSignal.timeout(DATA_CHANNEL_HANDSHAKE_TIMEOUT_MS) }).catch((err: Error) => { stream.abort(err) })
  }

  /**
   * A session's stream: the data channel when the peer offers one and it opens within
   * DATA_CHANNEL_CONNECT_TIMEOUT_MS, else a libp2p stream (the peer is not asked again
   * for DATA_CHANNEL_RETRY_MS). A `small` fetch takes a pooled data channel socket or a
   * libp2p stream, and leaves a new socket opening for the next fetch.
   */
  private async openExchange (peer: PeerId | Multiaddr, signal: AbortSignal, small = false): Promise<OpenedStream> {
    if (this.dataClient !== undefined) {
      try {
        const stream = await this.dataClient.connect(peer, { signal, wait: !small })
        if (stream !== undefined) return { stream, channel: 'data' }
      } catch (err) {
        signal.throwIfAborted()
        this.log('data channel to %s unavailable, using a libp2p stream: %s', peer.toString(), (err as Error).message)
      }
    }
    return { stream: await this.components.connectionManager.openStream(peer, EXCHANGE_PROTOCOL, { signal }), channel: 'stream' }
  }

  private serve (stream: ExchangeStream, peer: PeerId, options: ServerStreamOptions): void {
    this.stats.streams++
    const server = new ServerStream(stream, peer, options)
    this.servers.add(server)
    void server.finished.then(() => { this.servers.delete(server) })
  }

  async fetchBlocks (cids: Iterable<CID>, options: FetchOptions): Promise<FetchReport> {
    return await new Fetch(this.fetchSettings, cids, options).run()
  }

  serveStats (): ServeStats {
    const server = this.dataServer
    return { ...this.stats, ...(server === undefined ? {} : { dataChannel: { port: server.port, ...this.dataStats } }) }
  }
}
