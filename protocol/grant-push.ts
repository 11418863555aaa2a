/**
 * The grant protocol, id `/rok/grant/1.0.0`: before fetching a bucket's head, records,
 * manifests or chunks from a node, a peer pushes the registry grant it holds for that
 * bucket (protocol/grant.ts). The node verifies it offline against the registry key it
 * pinned and, when it covers the asking peer, serves that bucket to it until the grant
 * expires.
 *
 * One request, one response, then both sides close. Each is one frame: a 4-byte
 * big-endian body length, then the body (the framing of `/rok/head/1.0.0`).
 *
 *   request   u8 0x01 (PRESENT), the signed grant's DAG-CBOR bytes (1..MAX_GRANT_BYTES)
 *   response  u8 0x00 (ACCEPTED), u64 big-endian `expires` (ms since the epoch)
 *          or u8 0x01 (REFUSED), an error code as ASCII (1..MAX_REFUSAL_CODE_BYTES),
 *             e.g. ERR_GRANT_EXPIRED, ERR_BAD_SIGNATURE, ERR_INVALID_GRANT
 *
 * Every size is bounded; anything else is ERR_INVALID_MESSAGE. Pure: no I/O.
 */
import { ProtocolErrorCode, RokError } from './errors.ts'
import { MAX_GRANT_BYTES } from './grant.ts'
import { frame } from './frame.ts'

export const GRANT_PROTOCOL = '/rok/grant/1.0.0'
export const MAX_REFUSAL_CODE_BYTES = 64
export const MAX_GRANT_REQUEST_BODY = 1 + MAX_GRANT_BYTES
export const MAX_GRANT_RESPONSE_BODY = 1 + MAX_REFUSAL_CODE_BYTES

const PRESENT = 0x01
const ACCEPTED = 0x00
const REFUSED = 0x01

export type GrantPushResponse = { type: 'accepted', expires: number } | { type: 'refused', code: string }

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}

export function encodeGrantPush (grant: Uint8Array): Uint8Array {
  if (grant.byteLength < 1 || grant.byteLength > MAX_GRANT_BYTES) throw invalid(`a grant is 1..${MAX_GRANT_BYTES} bytes, not ${grant.byteLength}`)
  const body = new Uint8Array(1 + grant.byteLength)
  body[0] = PRESENT
  body.set(grant, 1)
  return frame(body)
}

/** The grant bytes of a PRESENT body (not yet decoded or verified). */
export function decodeGrantPush (body: Uint8Array): Uint8Array {
  if (body.byteLength < 2 || body.byteLength > MAX_GRANT_REQUEST_BODY) throw invalid(`a grant push body is 2..${MAX_GRANT_REQUEST_BODY} bytes, not ${body.byteLength}`)
  if (body[0] !== PRESENT) throw invalid(`unknown grant push type 0x${body[0].toString(16)}`)
  return body.slice(1)
}

export function encodeGrantPushResponse (response: GrantPushResponse): Uint8Array {
  if (response.type === 'accepted') {
    if (!Number.isSafeInteger(response.expires) || response.expires < 0) throw invalid('expires must be a non-negative integer')
    const body = new Uint8Array(9)
    body[0] = ACCEPTED
    new DataView(body.buffer).setBigUint64(1, BigInt(response.expires))
    return frame(body)
  }
  const code = new TextEncoder().encode(response.code)
  if (code.byteLength < 1 || code.byteLength > MAX_REFUSAL_CODE_BYTES || !/^[A-Z0-9_]+$/.test(response.code)) throw invalid('a refusal carries an error code of 1..64 of A-Z, 0-9 and _')
  const body = new Uint8Array(1 + code.byteLength)
  body[0] = REFUSED
  body.set(code, 1)
  return frame(body)
}

export function decodeGrantPushResponse (body: Uint8Array): GrantPushResponse {
  if (body.byteLength < 2 || body.byteLength > MAX_GRANT_RESPONSE_BODY) throw invalid(`a grant push response body is 2..${MAX_GRANT_RESPONSE_BODY} bytes, not ${body.byteLength}`)
  if (body[0] === ACCEPTED) {
    if (body.byteLength !== 9) throw invalid('an ACCEPTED grant push response is 9 bytes')
    const expires = new DataView(body.buffer, body.byteOffset, body.byteLength).getBigUint64(1)
    if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('expires is out of range')
    return { type: 'accepted', expires: Number(expires) }
  }
  if (body[0] !== REFUSED) throw invalid(`unknown grant push response type 0x${body[0].toString(16)}`)
  const code = String.fromCharCode(...body.subarray(1))
  if (!/^[A-Z0-9_]+$/.test(code)) throw invalid('a refusal code is A-Z, 0-9 and _ only')
  return { type: 'refused', code }
}
