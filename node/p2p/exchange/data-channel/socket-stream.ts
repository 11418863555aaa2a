/**
 * A data-channel TLS socket seen as an ExchangeStream, so the exchange's server and
 * client run over it unchanged: 'message' per received piece, 'remoteCloseWrite' when
 * the peer ends its side, 'close' when the socket is gone; `send` writes through a
 * SocketWriter (one buffer per socket write) and reports backpressure past WRITE_BUFFER_BYTES.
 *
 * The fetching side reads through a SocketInput: a TLS record that continues a block
 * being received is decrypted right into that block's memory in a BlockArena (`arena`);
 * any other is decrypted into one reused buffer, from which the frame decoder copies.
 * Receiving a block allocates nothing, and most of its bytes are never copied.
 */
import { RokError } from '../../../../protocol/errors.ts'
import { P2PErrorCode } from '../../errors.ts'
import { SocketWriter, type WriteSlabs } from './socket-writer.ts'
import type { BlockArena } from '../block-arena.ts'
import type { ExchangeStream, InPlaceReceiver } from '../stream-frames.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * Bytes sent and not yet written before `send` says stop. Far above a socket's 16 KiB
 * highWaterMark: the server coalesces 1 MiB per send and should not stall after each.
 */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024

/** Node decrypts at most one 16 KiB TLS record per read; room for a few. */
const READ_BUFFER_BYTES = 64 * 1024

type StreamEvent = 'message' | 'close' | 'remoteCloseWrite'
type Listener = (evt: any) => void

/**
 * A socket's reads (Node's `onread` option, given to `tls.connect`, asks for the memory
 * of every read): into the `receiver`'s target when it names one, else into one reused
 * buffer, each piece then going to `sink` and only valid during that call.
 */
export class SocketInput {
  sink: ((piece: Uint8Array) => void) | undefined
  receiver: InPlaceReceiver | undefined
  private readonly scratch = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  readonly onread = {
    buffer: (): Uint8Array => this.receiver?.target() ?? this.scratch,
    // false would pause the socket; flow control is the exchange's window
    callback: (n: number, buffer: Uint8Array): boolean => {
      // bytes read into a target whose receiver has gone meanwhile go to `sink`, which refuses them
      if (buffer !== this.scratch && this.receiver !== undefined) this.receiver.landed(n)
      else this.sink?.(buffer.subarray(0, n))
      return true
    }
  }
}

export class SocketStream implements ExchangeStream {
  readonly socket: Socket
  release: (() => void) | undefined
  /** Set when pieces are only valid during their 'message' event: blocks are copied here. */
  readonly arena: BlockArena | undefined
  private readonly listeners: Record<StreamEvent, Set<Listener>> = { message: new Set(), close: new Set(), remoteCloseWrite: new Set() }
  private error: Error | undefined
  private readonly writer: SocketWriter
  private readonly input: SocketInput | undefined

  /**
   * @param release - hands the socket back to its pool instead of closing it (client side)
   * @param input - the socket's reads, when it was opened with `input.onread`
   * @param slabs - the write memory this socket shares with others (server side)
   */
  constructor (socket: Socket, release?: (stream: SocketStream) => void, input?: { input: SocketInput, arena: BlockArena }, slabs?: WriteSlabs) {
    this.socket = socket
    this.writer = new SocketWriter(socket, slabs)
    this.release = release === undefined ? undefined : () => { release(this) }
    this.arena = input?.arena
    this.input = input?.input
    const deliver = (data: Uint8Array): void => {
      const listeners = this.listeners.message
      // nothing may arrive while no exchange uses the socket (e.g. pooled): the peer broke the protocol
      if (listeners.size === 0) {
        this.abort(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, 'peer sent data on an idle data channel'))
        return
      }
      for (const l of listeners) l({ data })
    }
    if (input === undefined) socket.on('data', deliver)
    else input.input.sink = deliver
    socket.on('end', () => { for (const l of this.listeners.remoteCloseWrite) l({}) })
    socket.on('error', (err: Error) => { this.error ??= err })
    socket.on('close', () => { for (const l of this.listeners.close) l({ error: this.error }) })
  }

  receiveInPlace (receiver: InPlaceReceiver | undefined): void {
    if (this.input !== undefined) this.input.receiver = receiver
  }

  get writeStatus (): string {
    if (this.socket.destroyed) return 'closed'
    return this.socket.writable ? 'writable' : 'closing'
  }

  /** True while the socket is open both ways and may carry another fetch. */
  get reusable (): boolean {
    return !this.socket.destroyed && this.socket.writable && this.socket.readable && this.error === undefined
  }

  send (data: Uint8Array | Uint8ArrayList, release?: () => void): boolean {
    this.writer.write(data, release)
    return this.writer.queued < WRITE_BUFFER_BYTES
  }

  sendThenRelease (data: Uint8Array | Uint8ArrayList, release: () => void): boolean {
    return this.send(data, release)
  }

  async onDrain (options: AbortOptions = {}): Promise<void> {
    await this.writer.below(WRITE_BUFFER_BYTES, options.signal)
  }

  async close (options: AbortOptions = {}): Promise<void> {
    const socket = this.socket
    if (socket.destroyed || socket.writableFinished) return
    // what the writer still holds goes out before the end
    await this.writer.below(1, options.signal)
    const finished = waitFor(socket, 'finish', options.signal)
    socket.end()
    await finished
  }

  abort (err: Error): void {
    this.error ??= err
    this.socket.destroy()
  }

  addEventListener (type: StreamEvent, listener: Listener): void {
    this.listeners[type].add(listener)
  }

  removeEventListener (type: StreamEvent, listener: Listener): void {
    this.listeners[type].delete(listener)
  }
}

/** Resolves on `event`; rejects when the socket closes first or `signal` aborts. */
async function waitFor (socket: Socket, event: 'finish', signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      socket.off(event, onEvent)
      socket.off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onEvent = (): void => { done() }
    const onClose = (): void => { done(new RokError(P2PErrorCode.PEER_GONE, `data channel closed while waiting for '${event}'`)) }
    const onAbort = (): void => { done(signal?.reason as Error) }
    socket.on(event, onEvent)
    socket.on('close', onClose)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
