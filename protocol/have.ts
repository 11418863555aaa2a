/**
 * The have protocol, id `/rok/have/1.0.0`: a subscriber syncing a version tells the fellows
 * it serves the bucket to which parts of the version it has stored and which it is fetching
 * now, so they fetch a part from a fellow that holds it, wait for one that is on it, and
 * ask the publisher only for parts nobody is on. Parts are ranges of positions in the
 * version's chunk list (the order its manifest walk lists chunks in, the same on every
 * node). Pushed unasked, one frame, then both sides close; each push states everything
 * (a lost push costs nothing but a later one).
 *
 *   u8 0x01 (HAVE), u8 bucket length, bucket (UTF-8), u8 CID length, the version record's
 *   CID, u32 chunks in the version, u16 range count (0..MAX_HAVE_RANGES), then per range
 *   u32 start, u32 end (exclusive), u8 state (0x01 FETCHING, 0x02 STORED); ranges sorted,
 *   none empty, none overlapping, each within the chunk count. All integers big-endian.
 */
import { parseBucketName } from './bucket-name.ts'
import { cidFromBytes, type CID } from './cid.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'
import { frame } from './frame.ts'
import { MAX_BUCKET_BYTES } from './head.ts'

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}

export const HAVE_PROTOCOL = '/rok/have/1.0.0'
/** Ranges per push at most: a sender with more advertises less (under-advertising is safe). */
export const MAX_HAVE_RANGES = 4096
const MAX_CID_BYTES = 64
const HAVE_RANGE_BYTES = 9
export const MAX_HAVE_BODY = 1 + 1 + MAX_BUCKET_BYTES + 1 + MAX_CID_BYTES + 4 + 2 + MAX_HAVE_RANGES * HAVE_RANGE_BYTES

const HAVE = 0x01
const FETCHING = 0x01
const STORED = 0x02

export interface HaveRange { start: number, end: number, state: 'fetching' | 'stored' }
export interface Have { bucket: string, version: CID, chunks: number, ranges: HaveRange[] }

export function encodeHave (have: Have): Uint8Array {
  parseBucketName(have.bucket)
  const name = new TextEncoder().encode(have.bucket)
  const cid = have.version.bytes
  if (name.byteLength > MAX_BUCKET_BYTES) throw invalid(`bucket name is over ${MAX_BUCKET_BYTES} bytes`)
  if (cid.byteLength > MAX_CID_BYTES) throw invalid(`a version CID is at most ${MAX_CID_BYTES} bytes`)
  checkRanges(have.ranges, have.chunks)
  const body = new Uint8Array(1 + 1 + name.byteLength + 1 + cid.byteLength + 4 + 2 + have.ranges.length * HAVE_RANGE_BYTES)
  const view = new DataView(body.buffer)
  let at = 0
  body[at++] = HAVE
  body[at++] = name.byteLength
  body.set(name, at)
  at += name.byteLength
  body[at++] = cid.byteLength
  body.set(cid, at)
  at += cid.byteLength
  view.setUint32(at, have.chunks)
  view.setUint16(at + 4, have.ranges.length)
  at += 6
  for (const r of have.ranges) {
    view.setUint32(at, r.start)
    view.setUint32(at + 4, r.end)
    body[at + 8] = r.state === 'stored' ? STORED : FETCHING
    at += HAVE_RANGE_BYTES
  }
  return frame(body)
}

export function decodeHave (body: Uint8Array): Have {
  if (body.byteLength < 9 || body.byteLength > MAX_HAVE_BODY) throw invalid(`a have body is 9..${MAX_HAVE_BODY} bytes, not ${body.byteLength}`)
  if (body[0] !== HAVE) throw invalid(`unknown have message type 0x${body[0].toString(16)}`)
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  let at = 1
  const take = (n: number, what: string): Uint8Array => {
    if (n < 1 || at + n > body.byteLength) throw invalid(`a have message's ${what} is cut short or empty`)
    const out = body.subarray(at, at + n)
    at += n
    return out
  }
  let bucket: string
  try {
    bucket = new TextDecoder('utf-8', { fatal: true }).decode(take(body[at++], 'bucket'))
    parseBucketName(bucket)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'a have message names no valid bucket', { cause })
  }
  if (at >= body.byteLength) throw invalid('a have message is cut short')
  const cidLength = body[at++]
  if (cidLength > MAX_CID_BYTES) throw invalid(`a version CID is at most ${MAX_CID_BYTES} bytes`)
  let version: CID
  try {
    version = cidFromBytes(take(cidLength, 'version CID'))
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'a have message carries no valid version CID', { cause })
  }
  if (at + 6 > body.byteLength) throw invalid('a have message is cut short')
  const chunks = view.getUint32(at)
  const count = view.getUint16(at + 4)
  at += 6
  if (count > MAX_HAVE_RANGES) throw invalid(`a have message carries at most ${MAX_HAVE_RANGES} ranges`)
  if (body.byteLength !== at + count * HAVE_RANGE_BYTES) throw invalid(`a have message with ${count} ranges is ${at + count * HAVE_RANGE_BYTES} bytes, not ${body.byteLength}`)
  const ranges: HaveRange[] = []
  for (let i = 0; i < count; i++, at += HAVE_RANGE_BYTES) {
    const state = body[at + 8]
    if (state !== FETCHING && state !== STORED) throw invalid(`unknown have range state 0x${state.toString(16)}`)
    ranges.push({ start: view.getUint32(at), end: view.getUint32(at + 4), state: state === STORED ? 'stored' : 'fetching' })
  }
  checkRanges(ranges, chunks)
  return { bucket, version, chunks, ranges }
}

function checkRanges (ranges: HaveRange[], chunks: number): void {
  if (!Number.isInteger(chunks) || chunks < 0 || chunks > 0xffffffff) throw invalid('a chunk count is a u32')
  if (ranges.length > MAX_HAVE_RANGES) throw invalid(`a have message carries at most ${MAX_HAVE_RANGES} ranges`)
  let previousEnd = 0
  for (const r of ranges) {
    if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < previousEnd || r.end <= r.start || r.end > chunks) {
      throw invalid(`have ranges are sorted, non-empty, non-overlapping and within the version's ${chunks} chunks`)
    }
    previousEnd = r.end
  }
}
