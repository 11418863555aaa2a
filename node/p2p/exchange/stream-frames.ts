/**
 * Reads exchange frames from a libp2p stream through its 'message' events (the stream's
 * async iterator buffers without bound, events let us decide), and writes frames with
 * the stream's own backpressure signal.
 */
import { FrameDecoder, type ExchangeMessage } from '../../../protocol/exchange.ts'
import type { BlockArena } from './block-arena.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

type StreamEvent = 'message' | 'close' | 'remoteCloseWrite'

/**
 * What the exchange needs of a transport: the part of a libp2p `Stream` it uses, which
 * a data-channel socket (data-channel/socket-stream.ts) provides as well.
 */
export interface ExchangeStream {
  readonly writeStatus: string
  send: (data: Uint8Array | Uint8ArrayList) => boolean
  onDrain: (options?: AbortOptions) => Promise<void>
  close: (options?: AbortOptions) => Promise<void>
  abort: (err: Error) => void
  addEventListener: (type: StreamEvent, listener: (evt: any) => void) => void
  removeEventListener: (type: StreamEvent, listener: (evt: any) => void) => void
  /**
   * Present when the 'message' pieces are only valid during the event (a socket read into
   * one reused buffer): the decoder copies blocks into this arena, and whoever ends up
   * holding a block releases it there once it is stored.
   */
  readonly arena?: BlockArena
  /**
   * Hands the transport back for another fetch instead of closing it (a pooled data
   * channel socket). Only called when nothing is in flight on it.
   */
  release?: () => void
  /**
   * `send` that says when the caller may reuse the memory it sent: `release` runs once the
   * transport reads none of it any more (the data channel's writer copies small pieces at
   * once and writes large ones where they lie). Absent: the caller never reuses it.
   */
  sendThenRelease?: (data: Uint8Array | Uint8ArrayList, release: () => void) => boolean
  /**
   * Present when the transport can read into memory it is given: the reader names where
   * the next bytes should go (the rest of a block being received, so they need no copy)
   * and hears how many landed there. Undefined detaches it.
   */
  receiveInPlace?: (receiver: InPlaceReceiver | undefined) => void
}

export interface InPlaceReceiver {
  /** Where the next bytes go; undefined: anywhere, delivered as a 'message'. */
  target: () => Uint8Array | undefined
  /** `n` bytes landed in the last target. */
  landed: (n: number) => void
}

export interface FrameReader {
  /** Stops listening; the stream itself is left as it is. */
  detach: () => void
}

export interface FrameHandlers {
  onMessage: (message: ExchangeMessage) => void
  /** A frame broke the wire format: the caller aborts the stream. */
  onInvalid: (err: Error) => void
  /** The remote closed its write side, or the stream closed (with the error if any). */
  onEnd: (err?: Error) => void
}

export function readFrames (stream: ExchangeStream, handlers: FrameHandlers): FrameReader {
  const decoder = new FrameDecoder({ blocksInto: stream.arena })
  let failed = false
  const feed = (piece: Uint8Array | number): void => {
    if (failed) return
    let messages: ExchangeMessage[]
    try {
      messages = typeof piece === 'number' ? decoder.pushInPlace(piece) : decoder.push(piece)
    } catch (err) {
      failed = true
      handlers.onInvalid(err as Error)
      return
    }
    for (const message of messages) {
      handlers.onMessage(message)
      if (failed) return
    }
  }
  const onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> }): void => {
    const data = evt.data
    if (data instanceof Uint8Array) feed(data)
    else for (const piece of data) feed(piece)
  }
  const onClose = (evt: { error?: Error }): void => { handlers.onEnd(evt.error) }
  const onRemoteCloseWrite = (): void => { handlers.onEnd() }
  stream.receiveInPlace?.({ target: () => failed ? undefined : decoder.readTarget(), landed: feed })
  stream.addEventListener('message', onMessage)
  stream.addEventListener('close', onClose)
  stream.addEventListener('remoteCloseWrite', onRemoteCloseWrite)
  return {
    detach: () => {
      failed = true
      stream.receiveInPlace?.(undefined)
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      stream.removeEventListener('remoteCloseWrite', onRemoteCloseWrite)
    }
  }
}
