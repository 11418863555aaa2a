/**
 * The framing of Rok's one-request/one-response protocols (`/rok/head/1.0.0`,
 * `/rok/grant/1.0.0`): a 4-byte big-endian body length, then the body. Pure: no I/O.
 */
import { ProtocolErrorCode, RokError } from './errors.ts'

export const FRAME_HEADER_BYTES = 4

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}

export function frame (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength)
  new DataView(out.buffer).setUint32(0, body.byteLength)
  out.set(body, FRAME_HEADER_BYTES)
  return out
}

/**
 * Accumulates stream pieces until one whole frame has arrived; refuses a frame whose
 * declared length is over `maxBody` before reading it, and any bytes after the frame.
 */
export class SingleFrameReader {
  private readonly maxBody: number
  private readonly pieces: Uint8Array[] = []
  private received = 0
  private expected: number | undefined

  constructor (maxBody: number) {
    this.maxBody = maxBody
  }

  /** Feed a piece; returns the body once complete. */
  push (piece: Uint8Array): Uint8Array | undefined {
    this.pieces.push(piece)
    this.received += piece.byteLength
    if (this.expected === undefined && this.received >= FRAME_HEADER_BYTES) {
      const header = this.concat().subarray(0, FRAME_HEADER_BYTES)
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0)
      if (length > this.maxBody) throw invalid(`frame of ${length} bytes is over the ${this.maxBody}-byte bound`)
      this.expected = FRAME_HEADER_BYTES + length
    }
    if (this.expected !== undefined && this.received > this.expected) throw invalid('bytes after the single frame')
    if (this.expected !== undefined && this.received === this.expected) return this.concat().slice(FRAME_HEADER_BYTES)
    if (this.received > FRAME_HEADER_BYTES + this.maxBody) throw invalid('frame over its bound')
    return undefined
  }

  private concat (): Uint8Array {
    if (this.pieces.length === 1) return this.pieces[0]
    const out = new Uint8Array(this.received)
    let at = 0
    for (const p of this.pieces) { out.set(p, at); at += p.byteLength }
    this.pieces.length = 0
    this.pieces.push(out)
    return out
  }
}
