/**
 * The node's upload cap (`rok node start --max-upload-rate`): one token bucket shared by
 * every stream the exchange serves, so eight subscribers together get the rate, not
 * eight times it.
 *
 * The bucket goes into debt rather than making a taker wait for a full block's worth of
 * tokens: `reserve` books the bytes at once and returns how long the caller must wait
 * before sending them. Later takers see the deeper debt and wait longer, so blocks leave
 * in the order they were booked and a block larger than the burst still passes. The
 * clock is injected (tests drive it by hand).
 */
import { RokError } from '../../../protocol/errors.ts'
import { P2PErrorCode } from '../errors.ts'

/** Bytes that may leave at once after an idle spell: 100 ms at the rate, at least 64 KiB. */
const BURST_SECONDS = 0.1
const MIN_BURST_BYTES = 64 * 1024
/**
 * The lowest cap: a largest block (4 MiB) must leave well within the exchange's 30 s idle
 * timeout, or the peer waiting for it gives up on this node.
 */
export const MIN_UPLOAD_RATE = 256 * 1024

export class UploadLimit {
  /** Bytes per second. */
  readonly rate: number
  private readonly burst: number
  private readonly now: () => number
  private tokens: number
  private last: number

  /** @param rate - bytes per second, > 0 @param now - milliseconds clock @default performance.now */
  constructor (rate: number, now: () => number = () => performance.now()) {
    if (!Number.isFinite(rate) || rate < MIN_UPLOAD_RATE) {
      throw new RokError(P2PErrorCode.INVALID_RATE, `an upload rate is at least ${MIN_UPLOAD_RATE} bytes per second (256KiB/s), not ${rate}`)
    }
    this.rate = rate
    this.burst = Math.max(MIN_BURST_BYTES, rate * BURST_SECONDS)
    this.now = now
    this.tokens = this.burst
    this.last = now()
  }

  /** Book `bytes` for sending; returns the milliseconds to wait before sending them. */
  reserve (bytes: number): number {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
    this.last = now
    this.tokens -= bytes
    return this.tokens >= 0 ? 0 : -this.tokens * 1000 / this.rate
  }

  /** Book `bytes` and resolve when they may be sent; rejects when `signal` aborts. */
  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(bytes)
    if (wait <= 0) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer)
        reject(signal?.reason as Error)
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, wait)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
