/**
 * The exchange's bulk data channel, protocol id `/rok/exchange-data/1.1.0`.
 *
 * Over an authenticated libp2p stream the client asks and the server answers with one
 * OFFER, then closes the stream:
 *
 *   OFFER  u8 version (1), u16 port, 32-byte ticket, 32-byte SHA-256 of the server's
 *          data certificate (DER)
 *
 * The client then opens a TLS 1.3 connection to the same host as the libp2p connection on
 * `port`, refuses it unless the certificate's SHA-256 is the one offered, and sends the
 * 32-byte ticket. The server answers one ACCEPT byte (0x01) when the ticket is one it
 * issued to that peer and not yet used, and closes the socket otherwise. From then on the
 * socket carries `/rok/exchange/1.1.0` frames (protocol/exchange.ts) exactly as a libp2p
 * stream would, on behalf of the peer the ticket was issued to. Pure: no I/O.
 */
import { ProtocolErrorCode, RokError } from './errors.ts'

export const DATA_CHANNEL_PROTOCOL = '/rok/exchange-data/1.1.0'
export const DATA_CHANNEL_VERSION = 1
export const TICKET_BYTES = 32
export const FINGERPRINT_BYTES = 32
export const OFFER_BYTES = 1 + 2 + TICKET_BYTES + FINGERPRINT_BYTES
/** The server's answer to a valid ticket. */
export const ACCEPT_BYTE = 0x01

export interface DataChannelOffer {
  port: number
  ticket: Uint8Array
  /** SHA-256 of the server certificate's DER encoding. */
  fingerprint: Uint8Array
}

export function encodeOffer (offer: DataChannelOffer): Uint8Array {
  if (!Number.isInteger(offer.port) || offer.port < 1 || offer.port > 65535) throw invalid(`data channel port ${offer.port} is not 1..65535`)
  if (offer.ticket.byteLength !== TICKET_BYTES || offer.fingerprint.byteLength !== FINGERPRINT_BYTES) throw invalid('data channel ticket and fingerprint are 32 bytes each')
  const out = new Uint8Array(OFFER_BYTES)
  out[0] = DATA_CHANNEL_VERSION
  out[1] = offer.port >> 8
  out[2] = offer.port & 0xff
  out.set(offer.ticket, 3)
  out.set(offer.fingerprint, 3 + TICKET_BYTES)
  return out
}

/** Throws ERR_INVALID_MESSAGE unless `bytes` is exactly one version-1 offer. */
export function decodeOffer (bytes: Uint8Array): DataChannelOffer {
  if (bytes.byteLength !== OFFER_BYTES) throw invalid(`a data channel offer is ${OFFER_BYTES} bytes, not ${bytes.byteLength}`)
  if (bytes[0] !== DATA_CHANNEL_VERSION) throw invalid(`data channel offer version ${bytes[0]} is not ${DATA_CHANNEL_VERSION}`)
  const port = (bytes[1] << 8) | bytes[2]
  if (port === 0) throw invalid('data channel offer names port 0')
  return {
    port,
    ticket: bytes.slice(3, 3 + TICKET_BYTES),
    fingerprint: bytes.slice(3 + TICKET_BYTES)
  }
}

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}
