/**
 * One fetch's stream to one peer: keeps up to `window` wants in flight, batching them
 * into WANT messages, and routes the peer's answers to handlers/. Any error (stream
 * failure, protocol violation, a bad block, silence past the idle deadline) drops the
 * peer from this fetch and hands its wants back to the fetch.
 */
import { encodeCancel, encodeWant, MAX_CIDS_PER_MESSAGE, type ExchangeMessage } from '../../../protocol/exchange.ts'
import { RokError } from '../../../protocol/errors.ts'
import { EXCHANGE_WANT_BATCH_DIVISOR } from '../constants.ts'
import { P2PErrorCode } from '../errors.ts'
import { handleBlock, handleRun } from './handlers/block.ts'
import { handleDontHave } from './handlers/dont-have.ts'
import { handleHave } from './handlers/have.ts'
import { readFrames, type ExchangeStream, type FrameReader } from './stream-frames.ts'
import type { Fetch, WantedBlock } from './fetch.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export class PeerSession {
  readonly key: string
  /** Position in the fetch's slot list this session has looked at. */
  cursor = 0
  alive = true
  /** Wants sent and not yet answered, by cidKey. */
  readonly inflight = new Map<string, WantedBlock>()
  readonly fetch: Fetch
  private readonly peer: PeerId | Multiaddr
  private stream: ExchangeStream | undefined
  /** 'data' when the session runs over the data channel, 'stream' over a libp2p stream. */
  channel: 'data' | 'stream' | undefined
  private reader: FrameReader | undefined
  private idleTimer: NodeJS.Timeout | undefined
  private closing = false

  constructor (fetch: Fetch, peer: PeerId | Multiaddr, key: string) {
    this.fetch = fetch
    this.peer = peer
    this.key = key
  }

  start (signal?: AbortSignal): void {
    const timeout = AbortSignal.timeout(this.fetch.settings.openTimeout)
    const opened = this.fetch.settings.open(this.peer, signal === undefined ? timeout : AbortSignal.any([signal, timeout]), this.fetch.small)
    opened.then(({ stream, channel }) => {
      if (!this.alive || this.closing) {
        stream.abort(new RokError(P2PErrorCode.TIMEOUT, 'fetch ended before the stream opened'))
        return
      }
      this.stream = stream
      this.channel = channel
      this.fetch.sessionOpened(this)
      this.reader = readFrames(stream, {
        onMessage: (message) => { this.onMessage(message) },
        onInvalid: (err) => { this.drop(err) },
        onEnd: (err) => {
          if (this.closing && this.inflight.size === 0) return
          this.drop(new RokError(P2PErrorCode.PEER_GONE, `peer ${this.key} ended the stream with ${this.inflight.size} wants unanswered${err === undefined ? '' : `: ${err.message}`}`, { cause: err }))
        }
      })
      this.touch()
      this.fill()
    }, (err: Error) => {
      this.drop(new RokError(P2PErrorCode.TIMEOUT, `could not open an exchange stream to ${this.key}: ${err.message}`, { cause: err }))
    })
  }

  private onMessage (message: ExchangeMessage): void {
    this.touch()
    switch (message.type) {
      case 'block': handleBlock(this, message.cidBytes, message.bytes); break
      case 'run': handleRun(this, message.body); break
      case 'dont-have': handleDontHave(this, message.cids); break
      case 'have': handleHave(this, message.cids); break
      default:
        this.drop(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, `a server may not send '${message.type}' messages`))
    }
  }

  /** Ask for more blocks while the window has room; wants go out in batches. */
  fill (): void {
    const stream = this.stream
    if (!this.alive || this.closing || stream === undefined) return
    const window = this.fetch.window()
    const room = window - this.inflight.size
    // wait for a batch worth of room unless nothing is in flight (keeps WANT messages large)
    if (room < Math.max(1, Math.floor(window / EXCHANGE_WANT_BATCH_DIVISOR)) && this.inflight.size > 0) return
    const batch: WantedBlock[] = []
    while (batch.length < room && batch.length < MAX_CIDS_PER_MESSAGE) {
      const entry = this.fetch.take(this)
      if (entry === undefined) break
      this.inflight.set(entry.key, entry)
      batch.push(entry)
    }
    if (batch.length === 0) return
    this.touch()
    stream.send(encodeWant(batch.map(e => ({ cid: e.cid, kind: 'block' as const }))))
  }

  private touch (): void {
    if (!this.alive) return
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh()
      return
    }
    this.idleTimer = setTimeout(() => {
      if (this.inflight.size > 0) {
        this.drop(new RokError(P2PErrorCode.TIMEOUT, `peer ${this.key} answered nothing for ${this.fetch.settings.idleTimeout} ms`))
      }
    }, this.fetch.settings.idleTimeout)
    this.idleTimer.unref()
  }

  /** End this session with an error: the peer is out of this fetch. */
  drop (err: Error): void {
    if (!this.alive) return
    this.alive = false
    clearTimeout(this.idleTimer)
    this.reader?.detach()
    this.stream?.abort(err)
    const held = [...this.inflight.values()]
    this.inflight.clear()
    this.fetch.sessionDropped(this, err, held)
  }

  /** The fetch is over: cancel what is still in flight and close (or abort with `reason`). */
  close (reason?: Error): void {
    if (!this.alive || this.closing) return
    this.closing = true
    clearTimeout(this.idleTimer)
    const stream = this.stream
    if (stream === undefined) return
    if (reason !== undefined) {
      this.alive = false
      this.reader?.detach()
      stream.abort(reason)
      return
    }
    const pending = [...this.inflight.values()].map(e => e.cid)
    // nothing in flight: a pooled data channel socket goes back for the next fetch
    if (pending.length === 0 && stream.release !== undefined) {
      this.alive = false
      this.reader?.detach()
      stream.release()
      return
    }
    for (let i = 0; i < pending.length; i += MAX_CIDS_PER_MESSAGE) {
      stream.send(encodeCancel(pending.slice(i, i + MAX_CIDS_PER_MESSAGE)))
    }
    this.inflight.clear()
    this.alive = false
    this.reader?.detach()
    stream.close({ signal: AbortSignal.timeout(this.fetch.settings.idleTimeout) }).catch((err: Error) => { stream.abort(err) })
  }
}
