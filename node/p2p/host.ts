/**
 * The libp2p host of a Rok node: TCP; TLS offered first (Node's native TLS, ~1.6× the
 * throughput of Noise) with Noise for peers that only speak it; yamux with large frames
 * and windows; identify and ping; Rok's own kad-dht; gossipsub for bucket announcements;
 * the chunk exchange. Limits (connections, streams per protocol, gater) are set here on
 * purpose rather than left at the defaults, which are tuned for the public IPFS network.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub, type TopicValidatorFn } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { RokError } from '../../protocol/errors.ts'
import {
  DHT_MAX_INBOUND_STREAMS, DHT_MAX_OUTBOUND_STREAMS, DHT_PROTOCOL, DIAL_TIMEOUT_MS, GOSSIP_MAX_INBOUND_STREAMS,
  GOSSIP_MAX_OUTBOUND_STREAMS, IDENTIFY_MAX_STREAMS, INBOUND_CONNECTION_THRESHOLD, INBOUND_UPGRADE_TIMEOUT_MS,
  MAX_CONNECTIONS, MAX_INCOMING_PENDING_CONNECTIONS, MAX_PARALLEL_DIALS, PING_MAX_STREAMS, STREAM_INACTIVITY_TIMEOUT_MS,
  YAMUX_INITIAL_STREAM_WINDOW, YAMUX_MAX_READ_BUFFER_BYTES, YAMUX_MAX_STREAM_WINDOW, YAMUX_MAX_STREAMS
} from './constants.ts'
import { P2PErrorCode } from './errors.ts'
import { chunkExchange, type ChunkExchange, type ChunkExchangeInit } from './exchange/index.ts'
import { rokConnectionGater } from './gater.ts'
import type { AbortOptions, ConnectionEncrypter, PeerId, PrivateKey } from '@libp2p/interface'

export type Encryption = 'tls' | 'noise'

// a type alias, not an interface: libp2p's ServiceMap needs an index-signature-compatible type
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions
export type RokServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  exchange: ChunkExchange
}

export type RokHost = Libp2p<RokServices>

export interface RokHostInit extends AbortOptions {
  /** The node's persistent identity (see identity.ts). Must be Ed25519. */
  privateKey: PrivateKey
  /** Multiaddrs to listen on. @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** Peers dialled once at start; failures are logged, not fatal (they may come up later). */
  bootstrap?: string[]
  /** Encryption offered, in order of preference. @default ['tls', 'noise'] */
  encryption?: Encryption[]
  /** The chunk exchange's store and authorization hook. */
  exchange: ChunkExchangeInit
  /**
   * The exchange's data channel (see exchange/data-channel/): listens on the host of the
   * first IP listen address, on `port`. `false` turns it off. @default { port: 0 }
   */
  dataChannel?: false | { port?: number }
  /**
   * Gossipsub validators by topic, e.g. one that checks a version announcement's signature.
   * More can be added later through `host.services.pubsub.topicValidators`.
   */
  topicValidators?: Record<string, TopicValidatorFn>
  /** Peers refused at the connection level. @default () => false */
  isPeerDenied?: (peer: PeerId) => boolean
  /** @default MAX_CONNECTIONS (128) */
  maxConnections?: number
}

function parseAddrs (addrs: string[], what: string): Multiaddr[] {
  return addrs.map(addr => {
    try {
      return multiaddr(addr)
    } catch (cause) {
      throw new RokError(P2PErrorCode.INVALID_MULTIADDR, `${what} address '${addr}' is not a multiaddr`, { cause, details: { addr } })
    }
  })
}

/** The exchange's data channel settings: the first IP listen address's host, if the node listens at all. */
function dataChannelOf (setting: RokHostInit['dataChannel'], listen: string[]): ChunkExchangeInit['dataChannel'] {
  if (setting === false) return false
  const host = listen.map(addr => multiaddr(addr).getComponents()[0]).find(c => c?.name === 'ip4' || c?.name === 'ip6')?.value
  return { host, port: setting?.port ?? 0 }
}

/** Create and start a Rok libp2p host, then dial the bootstrap peers. */
export async function createRokHost (init: RokHostInit): Promise<RokHost> {
  init.signal?.throwIfAborted()
  if (init.privateKey.type !== 'Ed25519') {
    throw new RokError(P2PErrorCode.INVALID_PRIVATE_KEY, `a Rok node identity must be an Ed25519 key, not ${init.privateKey.type}`)
  }
  const listen = init.listen ?? ['/ip4/0.0.0.0/tcp/0']
  parseAddrs(listen, 'listen')
  const bootstrap = parseAddrs(init.bootstrap ?? [], 'bootstrap')
  const encrypters: Record<Encryption, () => (components: any) => ConnectionEncrypter> = { tls, noise: () => noise() }

  const host = await createLibp2p<RokServices>({
    privateKey: init.privateKey,
    addresses: { listen },
    transports: [tcp({ dialOpts: { noDelay: true }, listenOpts: { noDelay: true } })],
    connectionEncrypters: (init.encryption ?? ['tls', 'noise']).map(name => encrypters[name]()),
    streamMuxers: [yamux({
      maxInboundStreams: YAMUX_MAX_STREAMS,
      maxOutboundStreams: YAMUX_MAX_STREAMS,
      streamOptions: {
        initialStreamWindowSize: YAMUX_INITIAL_STREAM_WINDOW,
        maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW,
        maxReadBufferLength: YAMUX_MAX_READ_BUFFER_BYTES,
        inactivityTimeout: STREAM_INACTIVITY_TIMEOUT_MS
      }
    })],
    connectionManager: {
      maxConnections: init.maxConnections ?? MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxParallelDials: MAX_PARALLEL_DIALS,
      dialTimeout: DIAL_TIMEOUT_MS,
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS
    },
    connectionGater: rokConnectionGater({ isPeerDenied: init.isPeerDenied }),
    services: {
      identify: identify({ maxInboundStreams: IDENTIFY_MAX_STREAMS, maxOutboundStreams: IDENTIFY_MAX_STREAMS }),
      ping: ping({ maxInboundStreams: PING_MAX_STREAMS, maxOutboundStreams: PING_MAX_STREAMS }),
      dht: kadDHT({
        // our own DHT: the default protocol joins the public IPFS Amino DHT
        protocol: DHT_PROTOCOL,
        logPrefix: 'rok:dht',
        datastorePrefix: '/rok/dht',
        metricsPrefix: 'rok_dht',
        // a node on a private network is a server from the start; client-mode nodes never find each other
        clientMode: false,
        // federation peers are often on private or loopback addresses; the default mapper drops them
        peerInfoMapper: passthroughMapper,
        // a federation may have two nodes; do not wait for a full routing table
        allowQueryWithZeroPeers: true,
        maxInboundStreams: DHT_MAX_INBOUND_STREAMS,
        maxOutboundStreams: DHT_MAX_OUTBOUND_STREAMS
      }),
      pubsub: gossipsub({
        // a bucket may have one subscriber or none yet; publishing must not fail for that
        allowPublishToZeroTopicPeers: true,
        // announcements are signed by the node key; unsigned gossip is rejected
        globalSignaturePolicy: 'StrictSign',
        emitSelf: false,
        maxInboundStreams: GOSSIP_MAX_INBOUND_STREAMS,
        maxOutboundStreams: GOSSIP_MAX_OUTBOUND_STREAMS
      }),
      exchange: chunkExchange({ ...init.exchange, dataChannel: dataChannelOf(init.dataChannel, listen) })
    }
  })
  for (const [topic, validator] of Object.entries(init.topicValidators ?? {})) {
    host.services.pubsub.topicValidators.set(topic, validator)
  }
  try {
    await dialBootstrap(host, bootstrap, { signal: init.signal })
  } catch (err) {
    await host.stop()
    throw err
  }
  return host
}

/**
 * Dial each bootstrap peer once, in parallel. A peer that is down is logged and skipped:
 * a node must start even when its bootstrap peers are not up yet. Resolves to the count
 * of peers reached. Rejects only when `signal` aborts.
 */
export async function dialBootstrap (host: Libp2p<any>, addrs: Multiaddr[], options: AbortOptions = {}): Promise<number> {
  const log = host.logger.forComponent('rok:host')
  const timeout = AbortSignal.timeout(DIAL_TIMEOUT_MS)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  const results = await Promise.allSettled(addrs.map(async addr => await host.dial(addr, { signal })))
  options.signal?.throwIfAborted()
  let reached = 0
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') reached++
    else log('bootstrap peer %a unreachable: %s', addrs[i], (result.reason as Error).message)
  })
  return reached
}
