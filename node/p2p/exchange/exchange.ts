/** The libp2p service behind `chunkExchange()`: registers the server handler, runs fetches. */
import { EXCHANGE_PROTOCOL } from '../../../protocol/exchange.ts'
import {
  EXCHANGE_IDLE_TIMEOUT_MS, EXCHANGE_MAX_INBOUND_STREAMS, EXCHANGE_MAX_OUTBOUND_STREAMS, EXCHANGE_MAX_PENDING_WANTS,
  EXCHANGE_MAX_UNSTORED_BYTES, EXCHANGE_OPEN_TIMEOUT_MS, EXCHANGE_SERVE_CONCURRENCY, EXCHANGE_WANT_TIMEOUT_MS, EXCHANGE_HASH_WORKER
} from '../constants.ts'
import { Fetch, type FetchSettings } from './fetch.ts'
import { ServerStream, type ServerStreamOptions } from './server.ts'
import { UploadLimit } from './upload-limit.ts'
import { BlockVerifier } from './verify.ts'
import type { ChunkExchange, ChunkExchangeComponents, ChunkExchangeInit, FetchOptions, FetchReport, ServeStats } from './index.ts'
import type { CID } from '../../../protocol/cid.ts'
import type { Connection, Startable, Stream } from '@libp2p/interface'

const closed = (): boolean => false

export class ChunkExchangeService implements ChunkExchange, Startable {
  private readonly components: ChunkExchangeComponents
  private readonly init: ChunkExchangeInit
  private readonly stats: ServeStats = { streams: 0, blocks: 0, bytes: 0, refused: 0, rejectedStreams: 0 }
  private readonly servers = new Set<ServerStream>()
  private readonly serverOptions: ServerStreamOptions
  private readonly fetchSettings: FetchSettings
  private readonly verifier: BlockVerifier

  constructor (components: ChunkExchangeComponents, init: ChunkExchangeInit) {
    this.components = components
    this.init = init
    const log = components.logger.forComponent('rok:exchange')
    this.verifier = new BlockVerifier(init.hashWorker ?? EXCHANGE_HASH_WORKER)
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
      log
    }
    this.fetchSettings = {
      store: init.store,
      window: init.window,
      openTimeout: init.openTimeout ?? EXCHANGE_OPEN_TIMEOUT_MS,
      idleTimeout,
      maxUnstoredBytes: init.maxUnstoredBytes ?? EXCHANGE_MAX_UNSTORED_BYTES,
      verifier: this.verifier,
      log
    }
  }

  readonly [Symbol.toStringTag] = '@rok/chunk-exchange'

  async start (): Promise<void> {
    await this.components.registrar.handle(EXCHANGE_PROTOCOL, (stream: Stream, connection: Connection) => {
      this.serve(stream, connection)
    }, {
      maxInboundStreams: this.init.maxInboundStreams ?? EXCHANGE_MAX_INBOUND_STREAMS,
      maxOutboundStreams: this.init.maxOutboundStreams ?? EXCHANGE_MAX_OUTBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(EXCHANGE_PROTOCOL)
    await this.verifier.stop()
  }

  private serve (stream: Stream, connection: Connection): void {
    this.stats.streams++
    const server = new ServerStream(stream, connection.remotePeer, this.serverOptions)
    this.servers.add(server)
    void server.finished.then(() => { this.servers.delete(server) })
  }

  async fetchBlocks (cids: Iterable<CID>, options: FetchOptions): Promise<FetchReport> {
    return await new Fetch(this.components, this.fetchSettings, cids, options).run()
  }

  serveStats (): ServeStats {
    return { ...this.stats }
  }
}
