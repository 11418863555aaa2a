/**
 * Ed25519 node keys and peer IDs on Node's own crypto, byte-compatible with libp2p: the
 * key file is libp2p's private-key protobuf and a peer ID is the base58btc identity
 * multihash of the public-key protobuf ("12D3KooW…"). The engine signs and checks version
 * records with this alone; loading @libp2p/crypto (all its key types and curves) costs
 * every CLI command about 20 MB of memory, so only the libp2p host and the registry do.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { ProtocolErrorCode, RokError } from './errors.ts'

/** Anything that signs for a node: its Ed25519Key or a libp2p Ed25519 private key. */
export interface Ed25519Signer {
  readonly publicKey: { readonly raw: Uint8Array }
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
}

const KEY_TYPE_ED25519 = 1
const SEED_BYTES = 32
const PUBLIC_BYTES = 32
// DER headers of an Ed25519 key in PKCS#8 and SPKI form (RFC 8410); the raw key follows.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
// libp2p's key protobuf: field 1 (type) = 1, field 2 (data) with a one-byte length.
const protobufHeader = (length: number): Uint8Array => Uint8Array.from([0x08, KEY_TYPE_ED25519, 0x12, length])
// identity multihash (code 0) of the 36-byte public key protobuf
const PEER_ID_HEADER = Uint8Array.from([0x00, 4 + PUBLIC_BYTES])

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

/** The peer ID of an Ed25519 public key (raw 32 bytes). */
export function peerIdOfPublicKey (raw: Uint8Array): string {
  return base58btc.baseEncode(concat(PEER_ID_HEADER, protobufHeader(PUBLIC_BYTES), raw))
}

export function peerIdOfSigner (signer: Ed25519Signer): string {
  return peerIdOfPublicKey(signer.publicKey.raw)
}

/**
 * The raw Ed25519 public key a peer ID embeds. Throws ERR_INVALID_PEER_ID for anything
 * else: text that is not base58btc, a hashed (RSA/secp256k1) or non-Ed25519 peer ID.
 */
export function publicKeyOfPeerId (peerId: string): Uint8Array {
  let bytes: Uint8Array
  try {
    bytes = base58btc.baseDecode(peerId)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_PEER_ID, `'${peerId.slice(0, 80)}' is not a peer ID`, { cause })
  }
  const header = concat(PEER_ID_HEADER, protobufHeader(PUBLIC_BYTES))
  if (bytes.length !== header.length + PUBLIC_BYTES || !startsWith(bytes, header)) {
    throw new RokError(ProtocolErrorCode.INVALID_PEER_ID, `'${peerId.slice(0, 80)}' is not an Ed25519 peer ID (Rok nodes use Ed25519 keys; they start with 12D3KooW)`)
  }
  return bytes.subarray(header.length)
}

/** True when `signature` is the Ed25519 signature of `data` by `publicKey` (raw). */
export function verifyEd25519 (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false
  const key = createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' })
  return verify(null, data, key, signature)
}

/** A node's Ed25519 key pair. */
export class Ed25519Key implements Ed25519Signer {
  readonly publicKey: { readonly raw: Uint8Array }
  readonly peerId: string
  private readonly seed: Uint8Array
  private readonly key: KeyObject

  private constructor (seed: Uint8Array, publicRaw: Uint8Array) {
    this.seed = seed
    this.key = createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' })
    this.publicKey = { raw: publicRaw }
    this.peerId = peerIdOfPublicKey(publicRaw)
  }

  static generate (): Ed25519Key {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const seed = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length))
    const pub = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length))
    return new Ed25519Key(seed, pub)
  }

  /**
   * A key from libp2p's private-key protobuf (what `identity.key` holds). The public half
   * stored beside the seed must match the seed's, or the file is corrupt.
   */
  static fromProtobuf (bytes: Uint8Array): Ed25519Key {
    const header = protobufHeader(SEED_BYTES + PUBLIC_BYTES)
    if (bytes.length !== header.length + SEED_BYTES + PUBLIC_BYTES || !startsWith(bytes, header)) {
      const type = bytes.length >= 2 && bytes[0] === 0x08 ? ['RSA', 'Ed25519', 'secp256k1', 'ECDSA'][bytes[1]] : undefined
      throw new RokError(ProtocolErrorCode.INVALID_PRIVATE_KEY, type !== undefined && type !== 'Ed25519'
        ? `this is a ${type} key; a Rok node key is Ed25519`
        : 'this is not a libp2p Ed25519 private key')
    }
    const seed = bytes.slice(header.length, header.length + SEED_BYTES)
    const stored = bytes.slice(header.length + SEED_BYTES)
    const key = new Ed25519Key(seed, stored)
    const derived = new Uint8Array(createPublicKey(key.key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length))
    if (!startsWith(derived, stored)) throw new RokError(ProtocolErrorCode.INVALID_PRIVATE_KEY, 'the public key stored with this private key does not match it (the file is corrupt)')
    return key
  }

  /** libp2p's private-key protobuf: seed and public key, as libp2p writes Ed25519 keys. */
  toProtobuf (): Uint8Array {
    return concat(protobufHeader(SEED_BYTES + PUBLIC_BYTES), this.seed, this.publicKey.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.key))
  }
}
