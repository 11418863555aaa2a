/**
 * The head protocol's two ends (wire format in protocol/head.ts). The server answers
 * only peers the bucket's allow list names, with one deadline for the whole exchange and
 * a bound on every frame; the client asks one peer with a deadline.
 *
 * The announce protocol is its push twin: the publisher sends a new head, unasked, to each
 * peer it serves the bucket to; the receiver hands the record on (to be verified) and closes.
 */
import { RokError, ProtocolErrorCode, isRokError } from '../../protocol/errors.ts'
import {
  ANNOUNCE_PROTOCOL, HEAD_PROTOCOL, MAX_HEAD_REQUEST_BODY, MAX_HEAD_RESPONSE_BODY, decodeHeadRequest,
  decodeHeadResponse, encodeHeadRequest, encodeHeadResponse
} from '../../protocol/head.ts'
import { SingleFrameReader } from '../../protocol/frame.ts'
import { ANNOUNCE_TIMEOUT_MS, HEAD_MAX_INBOUND_STREAMS, HEAD_MAX_OUTBOUND_STREAMS, HEAD_SERVE_TIMEOUT_MS, HEAD_TIMEOUT_MS } from './constants.ts'
import { SyncErrorCode } from './errors.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { ANNOUNCE_PROTOCOL, HEAD_PROTOCOL } from '../../protocol/head.ts'

/** What the head server and client need from a libp2p host. */
export interface HeadHost {
  handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dialProtocol: (peer: PeerId | Multiaddr, protocol: string, options?: { signal?: AbortSignal }) => Promise<Stream>
}

/** The head record bytes `peer` may have for `bucket`, or undefined (none, or not allowed). */
export type HeadResolver = (peer: string, bucket: string, signal: AbortSignal) => Promise<Uint8Array | undefined>

export interface HeadServerInit {
  resolve: HeadResolver
  /** Deadline for one inbound request, read to answer. @default HEAD_SERVE_TIMEOUT_MS (5 s) */
  timeout?: number
  onError?: (peer: string, err: Error) => void
}

/** Read exactly one frame of at most `maxBody` bytes from `stream` before `signal` fires. */
export async function readOneFrame (stream: Stream, maxBody: number, signal: AbortSignal): Promise<Uint8Array> {
  const reader = new SingleFrameReader(maxBody)
  const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>()
  const feed = (piece: Uint8Array): void => {
    try {
      const body = reader.push(piece)
      if (body !== undefined) resolve(body)
    } catch (err) {
      reject(err as Error)
    }
  }
  const onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> }): void => {
    if (evt.data instanceof Uint8Array) feed(evt.data)
    else for (const piece of evt.data) feed(piece)
  }
  const onEnd = (): void => { reject(new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'stream ended before a whole frame arrived')) }
  const onAbort = (): void => { reject(new RokError(SyncErrorCode.HEAD_FAILED, 'head exchange deadline passed')) }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('remoteCloseWrite', onEnd)
  stream.addEventListener('close', onEnd)
  signal.addEventListener('abort', onAbort, { once: true })
  if (signal.aborted) onAbort()
  try {
    return await promise
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('remoteCloseWrite', onEnd)
    stream.removeEventListener('close', onEnd)
    signal.removeEventListener('abort', onAbort)
  }
}

export async function serveHead (host: HeadHost, init: HeadServerInit): Promise<() => Promise<void>> {
  return await serveOneShot(host, HEAD_PROTOCOL, init.timeout ?? HEAD_SERVE_TIMEOUT_MS, init.onError, async (stream, peer, signal) => {
    const { bucket } = decodeHeadRequest(await readOneFrame(stream, MAX_HEAD_REQUEST_BODY, signal))
    const bytes = await init.resolve(peer, bucket, signal)
    stream.send(encodeHeadResponse(bytes === undefined ? { type: 'none' } : { type: 'record', bytes }))
  })
}

/** Handle `protocol` with one deadline per inbound stream: `serve` it, then close (or abort with the error). */
export async function serveOneShot (host: HeadHost, protocol: string, timeout: number, onError: ((peer: string, err: Error) => void) | undefined,
  serve: (stream: Stream, peer: string, signal: AbortSignal) => Promise<void>): Promise<() => Promise<void>> {
  await host.handle(protocol, (stream, connection) => {
    const peer = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(timeout)
    void (async () => {
      await serve(stream, peer, signal)
      await stream.close({ signal })
    })().catch((err: Error) => {
      onError?.(peer, err)
      stream.abort(err)
    })
  }, { maxInboundStreams: HEAD_MAX_INBOUND_STREAMS, maxOutboundStreams: HEAD_MAX_OUTBOUND_STREAMS })
  return async () => { await host.unhandle(protocol) }
}

/** Ask `peer` for the head record of `bucket`: its bytes (not yet verified), or undefined. */
export async function askHead (host: HeadHost, peer: PeerId | Multiaddr, bucket: string, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<Uint8Array | undefined> {
  const deadline = AbortSignal.timeout(options.timeout ?? HEAD_TIMEOUT_MS)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
  let stream: Stream | undefined
  try {
    stream = await openStream(host, peer, HEAD_PROTOCOL, signal)
    stream.send(encodeHeadRequest(bucket))
    const response = decodeHeadResponse(await readOneFrame(stream, MAX_HEAD_RESPONSE_BODY, signal))
    await stream.close({ signal }).catch(() => {})
    return response.type === 'record' ? response.bytes : undefined
  } catch (cause) {
    stream?.abort(cause as Error)
    options.signal?.throwIfAborted()
    if (isRokError(cause) && cause.code === SyncErrorCode.PEER_UNREACHABLE) throw cause
    throw new RokError(SyncErrorCode.HEAD_FAILED, `asking ${peer.toString()} for the head of ${bucket} failed: ${(cause as Error).message}`, { cause, details: { peer: peer.toString(), bucket } })
  }
}

/** Open a stream to `peer`, or fail with ERR_PEER_UNREACHABLE naming it and why (refused, no route, deadline). */
async function openStream (host: HeadHost, peer: PeerId | Multiaddr, protocol: string, signal: AbortSignal): Promise<Stream> {
  try {
    return await host.dialProtocol(peer, protocol, { signal })
  } catch (cause) {
    throw new RokError(SyncErrorCode.PEER_UNREACHABLE, `could not reach ${peer.toString()}: ${(cause as Error).message}`, { cause, details: { peer: peer.toString() } })
  }
}

export interface AnnounceServerInit {
  /** A record `peer` pushed (not yet verified). */
  onRecord: (peer: string, bytes: Uint8Array) => void
  /** Deadline for one inbound announcement. @default HEAD_SERVE_TIMEOUT_MS (5 s) */
  timeout?: number
  onError?: (peer: string, err: Error) => void
}

export async function serveAnnouncements (host: HeadHost, init: AnnounceServerInit): Promise<() => Promise<void>> {
  return await serveOneShot(host, ANNOUNCE_PROTOCOL, init.timeout ?? HEAD_SERVE_TIMEOUT_MS, init.onError, async (stream, peer, signal) => {
    const response = decodeHeadResponse(await readOneFrame(stream, MAX_HEAD_RESPONSE_BODY, signal))
    if (response.type !== 'record') throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'an announcement carries a record')
    init.onRecord(peer, response.bytes)
  })
}

/** Push the head record `bytes` to `peer`. */
export async function announceHead (host: HeadHost, peer: PeerId | Multiaddr, bytes: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<void> {
  await pushOneShot(host, peer, ANNOUNCE_PROTOCOL, encodeHeadResponse({ type: 'record', bytes }), options)
}

/** Open a stream of `protocol` to `peer`, send one framed message and close, all before the deadline (@default ANNOUNCE_TIMEOUT_MS). */
export async function pushOneShot (host: HeadHost, peer: PeerId | Multiaddr, protocol: string, framed: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<void> {
  const deadline = AbortSignal.timeout(options.timeout ?? ANNOUNCE_TIMEOUT_MS)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
  const stream = await openStream(host, peer, protocol, signal)
  try {
    stream.send(framed)
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
