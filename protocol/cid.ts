/**
 * Content identifiers. A chunk is a CIDv1 with the `raw` codec and a sha2-256 multihash;
 * a manifest node or version record is a CIDv1 with the `dag-cbor` codec. Same bytes →
 * same CID on every cluster. Hashing uses Node's native sha256 (OpenSSL), which is ~1 GB/s.
 */
import { hash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ProtocolErrorCode, RokError } from './errors.ts'
import { smallBytes } from './small-bytes.ts'

export { CID }

export const RAW_CODEC = 0x55
export const DAG_CBOR_CODEC = 0x71
export const SHA2_256 = 0x12

/** A CIDv1 with a sha2-256 digest: version, codec, hash code and digest length, digest. */
const CID_BYTES = 36

/**
 * The bytes of a CID Rok makes, its first four written (see small-bytes.ts for why not
 * multiformats' own arrays: it builds every CID and digest in fresh ones, two off-heap
 * allocations per block once it asks for their `.buffer`).
 */
function newCidBytes (codec: number): Uint8Array {
  const bytes = smallBytes(CID_BYTES)
  bytes[0] = 1
  bytes[1] = codec
  bytes[2] = SHA2_256
  bytes[3] = 32
  return bytes
}

function cidOf (codec: number, bytes: Uint8Array): CID {
  return new CID(1, codec, new Digest.Digest(SHA2_256, 32, bytes.subarray(4), bytes.subarray(2)), bytes)
}

export function cidFor (codec: typeof RAW_CODEC | typeof DAG_CBOR_CODEC, bytes: Uint8Array): CID {
  const out = newCidBytes(codec)
  // a latin1 string is kept on V8's heap; a Buffer result would be one more off-heap allocation
  Buffer.from(out.buffer, out.byteOffset, CID_BYTES).write(hash('sha256', bytes, 'latin1'), 4, 32, 'latin1')
  return cidOf(codec, out)
}

/** The CID of a chunk of raw bytes. */
export function chunkCid (bytes: Uint8Array): CID {
  return cidFor(RAW_CODEC, bytes)
}

/** The CID of a chunk whose sha2-256 digest was computed elsewhere (a worker thread). */
export function chunkCidFromDigest (digest: Uint8Array): CID {
  if (digest.byteLength !== 32) return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, digest))
  const out = newCidBytes(RAW_CODEC)
  out.set(digest, 4)
  return cidOf(RAW_CODEC, out)
}

/**
 * Map keys for CIDs on hot paths. `cid.toString()` base32-encodes on every call for a CID
 * decoded off the wire (~25 µs); a latin1 string of the CID's bytes is a copy.
 */
export function cidKey (cidBytes: Uint8Array): string {
  return Buffer.from(cidBytes.buffer, cidBytes.byteOffset, cidBytes.byteLength).toString('latin1')
}

/** Parse a CID string and check it is one Rok accepts (v1, raw or dag-cbor, sha2-256). */
export function parseCid (text: string): CID {
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_CID, `'${text.slice(0, 80)}' is not a CID`, { cause })
  }
  return checkCid(cid)
}

export function checkCid (cid: CID): CID {
  if (cid.version !== 1 || (cid.code !== RAW_CODEC && cid.code !== DAG_CBOR_CODEC) || cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32) {
    throw new RokError(ProtocolErrorCode.INVALID_CID, `CID ${cid.toString()} is not a CIDv1 raw/dag-cbor sha2-256 identifier`)
  }
  return cid
}

/**
 * True when the `length` bytes at `at` are a CID of the one shape Rok makes: v1, raw or
 * dag-cbor, sha2-256 with a 32-byte digest. Every varint in that form is one byte, so the
 * check is on fixed positions and agrees with `checkCid` without building a CID.
 */
export function isRokCidAt (bytes: Uint8Array, at: number, length: number): boolean {
  return length === CID_BYTES && bytes[at] === 1 && (bytes[at + 1] === RAW_CODEC || bytes[at + 1] === DAG_CBOR_CODEC) &&
    bytes[at + 2] === SHA2_256 && bytes[at + 3] === 32
}

/**
 * The CID whose 36 bytes start at `at`, which the caller has checked are the one shape
 * Rok makes (v1, raw or dag-cbor, sha2-256). Its bytes are copied: no view of `bytes`.
 */
export function rokCidAt (bytes: Uint8Array, at: number): CID {
  const codec = bytes[at + 1]
  const out = newCidBytes(codec)
  for (let i = 4; i < CID_BYTES; i++) out[i] = bytes[at + i]
  return cidOf(codec, out)
}

/** Parse CID bytes (as carried in manifests and on the wire). */
export function cidFromBytes (bytes: Uint8Array): CID {
  // the only shape Rok makes, decoded without multiformats' own arrays (see newCidBytes)
  if (isRokCidAt(bytes, 0, bytes.byteLength)) return rokCidAt(bytes, 0)
  let cid: CID
  try {
    cid = CID.decode(bytes)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_CID, 'malformed CID bytes', { cause })
  }
  return checkCid(cid)
}

/** True when `bytes` hash to `cid`'s digest. */
export function bytesMatchCid (cid: CID, bytes: Uint8Array): boolean {
  // as latin1 strings: this runs for every block received or read verified, and a string
  // stays on V8's heap where a Buffer result would be an off-heap allocation per block
  const digest = cid.multihash.digest
  return cid.multihash.code === SHA2_256 && digest.byteLength === 32 &&
    hash('sha256', bytes, 'latin1') === Buffer.from(digest.buffer, digest.byteOffset, 32).toString('latin1')
}

/** Throws ERR_HASH_MISMATCH unless `bytes` hash to `cid`. */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  if (!bytesMatchCid(cid, bytes)) {
    throw new RokError(ProtocolErrorCode.HASH_MISMATCH, `bytes do not match ${cid.toString()}`, { details: { cid: cid.toString() } })
  }
}
