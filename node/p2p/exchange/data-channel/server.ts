/**
 * The serving side of the data channel: a TLS 1.3 listener with an ephemeral certificate,
 * and the one-time tickets that bind its sockets to libp2p peers. A ticket is issued over
 * a libp2p stream to the peer that stream is authenticated as; a socket is accepted only
 * with an unused, unexpired ticket and then serves that peer, through the same
 * authorization hook as its libp2p streams.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import { ACCEPT_BYTE, TICKET_BYTES, type DataChannelOffer } from '../../../../protocol/data-channel.ts'
import { DATA_CHANNEL_CIPHERS } from '../../constants.ts'
import { createDataCertificate, type DataCertificate } from './certificate.ts'
import { SocketStream } from './socket-stream.ts'
import { WriteSlabs } from './socket-writer.ts'
import type { Logger, PeerId } from '@libp2p/interface'

export interface DataChannelServerInit {
  /** Address to listen on (the host of the node's libp2p listen address). */
  host: string
  /** 0 picks a free port. */
  port: number
  /** Longest time from TCP accept to a valid ticket (TLS handshake included). */
  handshakeTimeout: number
  /** How long an issued ticket may wait for its socket. */
  ticketTtl: number
  /** Tickets held at once; the oldest goes first past it. */
  maxTickets: number
  /** Sockets open at once, authenticated or not. */
  maxConnections: number
  /** A socket that presented a valid ticket, and the peer the ticket was issued to. */
  onStream: (stream: SocketStream, peer: PeerId) => void
  stats: { accepted: number, refused: number }
  log: Logger
}

interface Ticket { peer: PeerId, expires: number }

export class DataChannelServer {
  private readonly init: DataChannelServerInit
  /** Write memory shared by every socket this server serves (see WriteSlabs). */
  private readonly writeSlabs = new WriteSlabs()
  private readonly tickets = new Map<string, Ticket>()
  private readonly sockets = new Set<TLSSocket>()
  private server: Server | undefined
  private certificate: DataCertificate | undefined
  private listeningPort = 0

  constructor (init: DataChannelServerInit) {
    this.init = init
  }

  get port (): number {
    return this.listeningPort
  }

  async start (): Promise<void> {
    const certificate = await createDataCertificate()
    const server = createServer({
      key: certificate.key,
      cert: certificate.cert,
      minVersion: 'TLSv1.3',
      ciphers: DATA_CHANNEL_CIPHERS,
      honorCipherOrder: true,
      handshakeTimeout: this.init.handshakeTimeout
    }, (socket) => { this.accept(socket) })
    server.maxConnections = this.init.maxConnections
    // a stranger's failed handshake is its problem, not the node's
    server.on('tlsClientError', (err) => { this.init.log('data channel handshake failed: %s', err.message) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.init.port, this.init.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.listeningPort = (server.address() as { port: number }).port
    this.certificate = certificate
    this.server = server
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    this.tickets.clear()
    if (server === undefined) return
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  /** A one-time ticket for `peer` (already authenticated by its libp2p connection). */
  issue (peer: PeerId): DataChannelOffer | undefined {
    if (this.server === undefined || this.certificate === undefined) return undefined
    const now = Date.now()
    for (const [key, t] of this.tickets) {
      if (t.expires > now && this.tickets.size < this.init.maxTickets) break
      this.tickets.delete(key)
    }
    const ticket = randomBytes(TICKET_BYTES)
    this.tickets.set(ticket.toString('hex'), { peer, expires: now + this.init.ticketTtl })
    return { port: this.listeningPort, ticket, fingerprint: this.certificate.fingerprint }
  }

  /** Read exactly a ticket; accept the socket for its peer, or close it. */
  private accept (socket: TLSSocket): void {
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
    socket.on('error', (err: Error) => { this.init.log('data channel socket: %s', err.message) })
    socket.setNoDelay(true)
    const pieces: Buffer[] = []
    let received = 0
    const refuse = (why: string): void => {
      this.init.stats.refused++
      this.init.log('refused a data channel socket from %s: %s', socket.remoteAddress, why)
      socket.destroy()
    }
    const timer = setTimeout(() => { refuse('no ticket in time') }, this.init.handshakeTimeout)
    const onData = (piece: Buffer): void => {
      pieces.push(piece)
      received += piece.byteLength
      if (received < TICKET_BYTES) return
      clearTimeout(timer)
      socket.off('data', onData)
      // the client waits for ACCEPT before it sends anything else
      if (received !== TICKET_BYTES) { refuse('data before the ticket was accepted'); return }
      const key = Buffer.concat(pieces).toString('hex')
      const ticket = this.tickets.get(key)
      this.tickets.delete(key)
      if (ticket === undefined || ticket.expires < Date.now()) { refuse('unknown or expired ticket'); return }
      this.init.stats.accepted++
      socket.write(Uint8Array.of(ACCEPT_BYTE))
      this.init.onStream(new SocketStream(socket, undefined, undefined, this.writeSlabs), ticket.peer)
    }
    socket.on('data', onData)
    socket.once('close', () => { clearTimeout(timer) })
  }
}
