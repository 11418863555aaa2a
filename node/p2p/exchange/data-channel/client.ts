/**
 * The fetching side of the data channel: asks a peer for an offer over the libp2p
 * connection, connects to the same host on the offered port with TLS 1.3, refuses any
 * certificate but the offered one, presents the ticket and waits for ACCEPT. Sockets are
 * kept per peer and reused by the next fetch (a sync fetches in batches); an idle one is
 * closed after a while. A peer whose channel could not be opened is not asked again for
 * a while: its fetches go over libp2p streams meanwhile.
 */
import { timingSafeEqual } from 'node:crypto'
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { ACCEPT_BYTE, DATA_CHANNEL_PROTOCOL, decodeOffer, OFFER_BYTES, type DataChannelOffer } from '../../../../protocol/data-channel.ts'
import { RokError } from '../../../../protocol/errors.ts'
import { DATA_CHANNEL_CIPHERS } from '../../constants.ts'
import { P2PErrorCode } from '../../errors.ts'
import { fingerprintOf } from './certificate.ts'
import { BlockArena } from '../block-arena.ts'
import { SocketInput, SocketStream } from './socket-stream.ts'
import type { AbortOptions, Connection, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { OnReadOpts } from 'node:net'

export interface DataChannelClientInit {
  openConnection: (peer: PeerId | Multiaddr, options?: AbortOptions) => Promise<Connection>
  /** Longest time from asking for an offer to ACCEPT. */
  connectTimeout: number
  /** A pooled socket unused this long is closed. */
  idleTimeout: number
  /** After a failure, how long a peer's fetches use libp2p streams before the channel is tried again. */
  retryAfter: number
  /** Receive blocks into shared memory, for the hash worker (see BlockArena). */
  sharedArena?: boolean
  log: Logger
}

interface Idle { stream: SocketStream, timer: NodeJS.Timeout }

export class DataChannelClient {
  private readonly init: DataChannelClientInit
  private readonly idle = new Map<string, Idle[]>()
  private readonly failedUntil = new Map<string, number>()
  private readonly open = new Set<SocketStream>()
  /** Peers a socket is being opened to in the background (see connect's `wait`). */
  private readonly warming = new Set<string>()
  private closed = false
  /** Received blocks of every socket, reused once stored (see BlockArena). */
  readonly arena: BlockArena

  constructor (init: DataChannelClientInit) {
    this.init = init
    this.arena = new BlockArena({ shared: init.sharedArena })
  }

  /**
   * A data channel socket to `peer`, pooled or new; rejects when none can be opened. With
   * `wait: false` only a pooled one: otherwise undefined, and a new socket is opened in the
   * background and pooled for the next call.
   */
  async connect (peer: PeerId | Multiaddr, options: AbortOptions & { wait?: boolean } = {}): Promise<SocketStream | undefined> {
    const timeout = AbortSignal.timeout(this.init.connectTimeout)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    const connection = await this.init.openConnection(peer, { signal })
    const key = connection.remotePeer.toString()
    const pooled = this.takeIdle(key)
    if (pooled !== undefined) return pooled
    if ((this.failedUntil.get(key) ?? 0) > Date.now()) {
      throw new RokError(P2PErrorCode.DATA_CHANNEL_UNAVAILABLE, `the data channel to ${key} failed recently; using libp2p streams`)
    }
    if (options.wait !== false) return await this.openNew(connection, key, signal, options.signal)
    if (!this.warming.has(key)) {
      this.warming.add(key)
      // not the caller's signal: the socket outlives the call that asked for it
      this.openNew(connection, key, AbortSignal.timeout(this.init.connectTimeout))
        .then(stream => {
          if (this.closed) stream.socket.destroy()
          else this.giveBack(key, stream)
        }, (err: Error) => { this.init.log('data channel to %s not opened: %s', key, err.message) })
        .finally(() => { this.warming.delete(key) })
    }
    return undefined
  }

  /** `signal` bounds the attempt; only `callerSignal` aborting is not held against the peer. */
  private async openNew (connection: Connection, key: string, signal: AbortSignal, callerSignal?: AbortSignal): Promise<SocketStream> {
    try {
      const offer = await requestOffer(connection, signal)
      const input = new SocketInput()
      const socket = await connectPinned(hostOf(connection.remoteAddr), offer, signal, input)
      const stream = new SocketStream(socket, (s) => { this.giveBack(key, s) }, { input, arena: this.arena })
      this.open.add(stream)
      socket.once('close', () => { this.open.delete(stream); this.forget(key, stream) })
      this.failedUntil.delete(key)
      return stream
    } catch (err) {
      callerSignal?.throwIfAborted()
      this.failedUntil.set(key, Date.now() + this.init.retryAfter)
      throw err
    }
  }

  /** Close every socket (the node is stopping). */
  close (): void {
    this.closed = true
    for (const list of this.idle.values()) for (const i of list) clearTimeout(i.timer)
    this.idle.clear()
    for (const stream of this.open) stream.socket.destroy()
    this.open.clear()
  }

  private takeIdle (key: string): SocketStream | undefined {
    const list = this.idle.get(key)
    while (list !== undefined && list.length > 0) {
      const { stream, timer } = list.pop()!
      clearTimeout(timer)
      if (stream.reusable) return stream
    }
    return undefined
  }

  /** A fetch is done with `stream` and left nothing in flight: keep it for the next one. */
  private giveBack (key: string, stream: SocketStream): void {
    if (!stream.reusable) {
      stream.socket.destroy()
      return
    }
    const timer = setTimeout(() => {
      this.forget(key, stream)
      stream.close().catch(() => { stream.socket.destroy() })
    }, this.init.idleTimeout)
    timer.unref()
    const list = this.idle.get(key) ?? []
    list.push({ stream, timer })
    this.idle.set(key, list)
  }

  private forget (key: string, stream: SocketStream): void {
    const list = this.idle.get(key)
    if (list === undefined) return
    const i = list.findIndex(x => x.stream === stream)
    if (i >= 0) clearTimeout(list.splice(i, 1)[0].timer)
    if (list.length === 0) this.idle.delete(key)
  }
}

/** The host part of the libp2p connection's remote address: the data channel goes to the same machine. */
function hostOf (addr: Multiaddr): string {
  const first = addr.getComponents()[0]
  if (first === undefined || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(first.name) || first.value === undefined) {
    throw new RokError(P2PErrorCode.DATA_CHANNEL_UNAVAILABLE, `no IP host in the peer's address ${addr.toString()}`)
  }
  return first.value
}

/** Asks the peer at the other end of `connection` for a data channel offer. */
export async function requestOffer (connection: Connection, signal: AbortSignal): Promise<DataChannelOffer> {
  const stream = await connection.newStream(DATA_CHANNEL_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(signal.reason as Error) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const pieces: Uint8Array[] = []
    let received = 0
    // the offer is all the server sends: stop at its size rather than wait for the end
    for await (const piece of stream) {
      const bytes = piece instanceof Uint8Array ? piece : piece.subarray()
      received += bytes.byteLength
      pieces.push(bytes)
      if (received >= OFFER_BYTES) break
      signal.throwIfAborted()
    }
    const offer = decodeOffer(Buffer.concat(pieces))
    await stream.close({ signal }).catch(() => {})
    return offer
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * TLS to `host:offer.port`, pinned to the offered certificate; resolves once the ticket is
 * accepted. The socket reads through `input`; anything the peer sends after ACCEPT and
 * before a SocketStream takes `input.sink` over breaks the protocol and closes it.
 */
export async function connectPinned (host: string, offer: DataChannelOffer, signal: AbortSignal, input = new SocketInput()): Promise<TLSSocket> {
  signal.throwIfAborted()
  // not verified against a CA: pinned to the offered fingerprint below, before the ticket leaves
  // `onread` is a documented tls.connect option that @types/node leaves out
  const options: ConnectionOptions & { onread: OnReadOpts } = { host, port: offer.port, minVersion: 'TLSv1.3', ciphers: DATA_CHANNEL_CIPHERS, rejectUnauthorized: false, onread: input.onread }
  const socket = connect(options)
  socket.setNoDelay(true)
  const { promise, resolve, reject } = Promise.withResolvers<TLSSocket>()
  const fail = (err: Error): void => {
    socket.destroy()
    reject(new RokError(P2PErrorCode.DATA_CHANNEL_UNAVAILABLE, `data channel to ${host}:${offer.port}: ${err.message}`, { cause: err }))
  }
  const onAbort = (): void => { fail(signal.reason as Error) }
  signal.addEventListener('abort', onAbort, { once: true })
  socket.on('error', fail)
  let ticketSent = false
  socket.once('close', () => { fail(new Error(ticketSent ? 'the peer did not accept the ticket' : 'closed before TLS was set up')) })
  socket.once('secureConnect', () => {
    const der = socket.getPeerCertificate(false)?.raw
    if (der === undefined || !timingSafeEqual(fingerprintOf(der), offer.fingerprint)) {
      socket.destroy()
      reject(new RokError(P2PErrorCode.DATA_CHANNEL_UNTRUSTED, `the data channel at ${host}:${offer.port} showed a certificate other than the one its peer offered`))
      return
    }
    socket.write(offer.ticket)
    ticketSent = true
    input.sink = (answer) => {
      input.sink = () => { socket.destroy() }
      if (answer.byteLength !== 1 || answer[0] !== ACCEPT_BYTE) { fail(new Error('the peer did not accept the ticket')); return }
      resolve(socket)
    }
  })
  try {
    return await promise
  } finally {
    signal.removeEventListener('abort', onAbort)
    socket.off('error', fail)
    socket.removeAllListeners('close')
    socket.removeAllListeners('secureConnect')
  }
}
