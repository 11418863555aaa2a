/**
 * The head protocol, id `/rok/head/1.0.0`: a subscriber asks a peer for the latest signed
 * version record of one bucket — to catch up after subscribing, and as a fallback when
 * an announcement on the bucket's gossip topic was missed.
 *
 * One request, one response, then both sides close. Each is one frame (protocol/frame.ts):
 * a 4-byte big-endian body length, then the body.
 *
 *   request   u8 0x01 (HEAD), bucket name as UTF-8 (1..MAX_BUCKET_BYTES bytes)
 *   response  u8 0x00 (RECORD), the signed version record block (1..MAX_RECORD_BYTES bytes)
 *          or u8 0x01 (NONE)   — no versions here, or the asker may not see the bucket
 *                                (the same answer, so a refused peer learns nothing)
 *
 * Every size is bounded; anything else is ERR_INVALID_MESSAGE. Pure: no I/O.
 */
import { parseBucketName } from './bucket-name.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'
import { MAX_RECORD_BYTES } from './record.ts'
import { frame } from './frame.ts'

export const HEAD_PROTOCOL = '/rok/head/1.0.0'
/**
 * The announce protocol, id `/rok/announce/1.0.0`: a publisher pushes a bucket's new head
 * to each peer it serves the bucket to (never to a topic, where anyone subscribed would
 * learn it). One frame, a RECORD head response as above, then both sides close.
 */
export const ANNOUNCE_PROTOCOL = '/rok/announce/1.0.0'

/** `group/name`: two parts of at most 64 bytes and a slash. */
export const MAX_BUCKET_BYTES = 129
export const MAX_HEAD_REQUEST_BODY = 1 + MAX_BUCKET_BYTES
export const MAX_HEAD_RESPONSE_BODY = 1 + MAX_RECORD_BYTES

const HEAD = 0x01
const RECORD = 0x00
const NONE = 0x01

export type HeadResponse = { type: 'record', bytes: Uint8Array } | { type: 'none' }

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}

export function encodeHeadRequest (bucket: string): Uint8Array {
  parseBucketName(bucket)
  const name = new TextEncoder().encode(bucket)
  if (name.byteLength > MAX_BUCKET_BYTES) throw invalid(`bucket name is over ${MAX_BUCKET_BYTES} bytes`)
  const body = new Uint8Array(1 + name.byteLength)
  body[0] = HEAD
  body.set(name, 1)
  return frame(body)
}

export function decodeHeadRequest (body: Uint8Array): { bucket: string } {
  if (body.byteLength < 2 || body.byteLength > MAX_HEAD_REQUEST_BODY) throw invalid(`a head request body is 2..${MAX_HEAD_REQUEST_BODY} bytes, not ${body.byteLength}`)
  if (body[0] !== HEAD) throw invalid(`unknown head request type 0x${body[0].toString(16)}`)
  let bucket: string
  try {
    bucket = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(1))
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'head request bucket is not UTF-8', { cause })
  }
  try {
    parseBucketName(bucket)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'head request names no valid bucket', { cause })
  }
  return { bucket }
}

export function encodeHeadResponse (response: HeadResponse): Uint8Array {
  if (response.type === 'none') return frame(Uint8Array.of(NONE))
  if (response.bytes.byteLength < 1 || response.bytes.byteLength > MAX_RECORD_BYTES) throw invalid(`a version record is 1..${MAX_RECORD_BYTES} bytes`)
  const body = new Uint8Array(1 + response.bytes.byteLength)
  body[0] = RECORD
  body.set(response.bytes, 1)
  return frame(body)
}

export function decodeHeadResponse (body: Uint8Array): HeadResponse {
  if (body.byteLength < 1 || body.byteLength > MAX_HEAD_RESPONSE_BODY) throw invalid(`a head response body is 1..${MAX_HEAD_RESPONSE_BODY} bytes, not ${body.byteLength}`)
  if (body[0] === NONE) {
    if (body.byteLength !== 1) throw invalid('a NONE head response carries no bytes')
    return { type: 'none' }
  }
  if (body[0] !== RECORD) throw invalid(`unknown head response type 0x${body[0].toString(16)}`)
  if (body.byteLength < 2) throw invalid('a RECORD head response carries the record')
  return { type: 'record', bytes: body.slice(1) }
}
