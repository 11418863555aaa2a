/**
 * Version records: `{bucket, seq, parent, root, kind, size, createdAt, publisher, message}`
 * signed with the publisher node's Ed25519 key (its libp2p identity). The signature covers
 * a domain tag plus the DAG-CBOR encoding of the unsigned record, so it can never be
 * replayed as some other kind of signed message. A version's identity is the CID of the
 * signed record block. Readers verify before they trust anything in it.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { peerIdOfSigner, publicKeyOfPeerId, verifyEd25519, type Ed25519Signer } from './ed25519.ts'
import { CID, DAG_CBOR_CODEC, checkCid, cidFor } from './cid.ts'
import { parseBucketName } from './bucket-name.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'

export const VERSION_RECORD_DOMAIN = new TextEncoder().encode('rok/version-record/1\0')
export const MAX_RECORD_BYTES = 16 * 1024
export const MAX_MESSAGE_CHARS = 4096

export type VolumeKind = 'tree' | 'image'

export interface VersionRecord {
  bucket: string
  seq: number
  /** CID of the previous version's record, null for the first version. */
  parent: CID | null
  /** CID of the manifest root node. */
  root: CID
  kind: VolumeKind
  /** Logical size in bytes of the snapshotted volume. */
  size: number
  /** Milliseconds since the epoch. */
  createdAt: number
  /** Peer ID (string) of the publishing node; its public key verifies `signature`. */
  publisher: string
  message: string
}

export interface SignedVersionRecord extends VersionRecord {
  signature: Uint8Array
}

export interface EncodedRecord {
  cid: CID
  bytes: Uint8Array
  record: SignedVersionRecord
}

function unsignedBytes (record: VersionRecord): Uint8Array {
  const body = dagCbor.encode(toCbor(record))
  const out = new Uint8Array(VERSION_RECORD_DOMAIN.length + body.length)
  out.set(VERSION_RECORD_DOMAIN, 0)
  out.set(body, VERSION_RECORD_DOMAIN.length)
  return out
}

function toCbor (record: VersionRecord): Record<string, unknown> {
  return {
    bucket: record.bucket,
    seq: record.seq,
    parent: record.parent,
    root: record.root,
    kind: record.kind,
    size: record.size,
    createdAt: record.createdAt,
    publisher: record.publisher,
    message: record.message
  }
}

export async function signVersionRecord (record: Omit<VersionRecord, 'publisher'>, key: Ed25519Signer): Promise<EncodedRecord> {
  const full: VersionRecord = { ...record, publisher: peerIdOfSigner(key) }
  validateRecordFields(full)
  const signature = await key.sign(unsignedBytes(full))
  const signed: SignedVersionRecord = { ...full, signature }
  const bytes = dagCbor.encode({ ...toCbor(full), signature })
  return { cid: cidFor(DAG_CBOR_CODEC, bytes), bytes, record: signed }
}

/**
 * Decode a signed record block, check its shape and verify its signature against the
 * publisher named inside it. Callers decide separately whether that publisher may
 * publish the bucket.
 */
export async function decodeVersionRecord (bytes: Uint8Array): Promise<EncodedRecord> {
  if (bytes.length > MAX_RECORD_BYTES) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, `version record is ${bytes.length} bytes, over the ${MAX_RECORD_BYTES}-byte limit`)
  }
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, 'version record is not valid DAG-CBOR', { cause })
  }
  const record = parseRecordShape(raw)
  validateRecordFields(record)
  let publicKey: Uint8Array
  try {
    publicKey = publicKeyOfPeerId(record.publisher)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, `version record publisher: ${(cause as Error).message}`, { cause })
  }
  const ok = verifyEd25519(publicKey, unsignedBytes(record), record.signature)
  if (!ok) {
    throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `version ${record.bucket}@${record.seq} is not signed by its publisher ${record.publisher}`,
      { details: { bucket: record.bucket, seq: record.seq, publisher: record.publisher } })
  }
  return { cid: cidFor(DAG_CBOR_CODEC, bytes), bytes, record }
}

function parseRecordShape (raw: unknown): SignedVersionRecord {
  const bad = (what: string): never => {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, `version record field ${what}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('set is not a map')
  const r = raw as Record<string, unknown>
  const allowed = new Set(['bucket', 'seq', 'parent', 'root', 'kind', 'size', 'createdAt', 'publisher', 'message', 'signature'])
  for (const k of Object.keys(r)) if (!allowed.has(k)) bad(`'${k.slice(0, 40)}' is unknown`)
  if (typeof r.bucket !== 'string') bad('bucket must be a string')
  if (typeof r.seq !== 'number') bad('seq must be a number')
  if (r.parent !== null && CID.asCID(r.parent) === null) bad('parent must be a CID or null')
  if (CID.asCID(r.root) === null) bad('root must be a CID')
  if (r.kind !== 'tree' && r.kind !== 'image') bad("kind must be 'tree' or 'image'")
  if (typeof r.size !== 'number') bad('size must be a number')
  if (typeof r.createdAt !== 'number') bad('createdAt must be a number')
  if (typeof r.publisher !== 'string') bad('publisher must be a string')
  if (typeof r.message !== 'string') bad('message must be a string')
  if (!(r.signature instanceof Uint8Array)) bad('signature must be bytes')
  return {
    bucket: r.bucket as string,
    seq: r.seq as number,
    parent: r.parent === null ? null : CID.asCID(r.parent)!,
    root: CID.asCID(r.root)!,
    kind: r.kind as VolumeKind,
    size: r.size as number,
    createdAt: r.createdAt as number,
    publisher: r.publisher as string,
    message: r.message as string,
    signature: r.signature as Uint8Array
  }
}

function validateRecordFields (record: VersionRecord): void {
  parseBucketName(record.bucket)
  if (!Number.isSafeInteger(record.seq) || record.seq < 1) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, `version record seq ${record.seq} must be a positive integer`)
  }
  if ((record.seq === 1) !== (record.parent === null)) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, 'version record parent must be null exactly for seq 1')
  }
  if (record.parent !== null) checkCid(record.parent)
  checkCid(record.root)
  if (!Number.isSafeInteger(record.size) || record.size < 0) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, 'version record size must be a non-negative integer')
  }
  if (!Number.isSafeInteger(record.createdAt) || record.createdAt < 0) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, 'version record createdAt must be a non-negative integer (ms)')
  }
  if (record.message.length > MAX_MESSAGE_CHARS) {
    throw new RokError(ProtocolErrorCode.INVALID_VERSION_RECORD, `version message is over ${MAX_MESSAGE_CHARS} characters`)
  }
}
