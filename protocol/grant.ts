/**
 * Grants: a registry-signed capability `{peer, bucket, rights, expires}` saying that the
 * node with `peer` may read (fetch chunks of) or publish a bucket until `expires`. The
 * registry signs a domain tag plus the DAG-CBOR encoding of the unsigned grant with its
 * Ed25519 key, so a grant can never be replayed as a version record or a node proof.
 * Nodes check grants offline with `verifyGrant`, which is why serving and syncing go on
 * while the registry is down; grants are short-lived so revocation takes effect within
 * one grant lifetime.
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseBucketName } from './bucket-name.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'

export const GRANT_DOMAIN = new TextEncoder().encode('rok/grant/1\0')
export const MAX_GRANT_BYTES = 2048

export type GrantRight = 'read' | 'publish'
export const GRANT_RIGHTS: readonly GrantRight[] = ['read', 'publish']

export interface Grant {
  /** Peer ID (string) of the node the grant is for. */
  peer: string
  bucket: string
  /** Sorted, without duplicates. */
  rights: GrantRight[]
  /** Milliseconds since the epoch when the grant was issued. */
  issuedAt: number
  /** Milliseconds since the epoch after which the grant is void. */
  expires: number
}

export interface SignedGrant extends Grant {
  signature: Uint8Array
}

/** Grant codes, documented in docs/ERRORS.md beside the protocol codes. */
export const GrantErrorCode = {
  /** A grant is malformed (bad shape, unknown right, bad peer ID or bucket). */
  INVALID_GRANT: 'ERR_INVALID_GRANT',
  /** A grant's `expires` is in the past (or it was issued in the future). */
  GRANT_EXPIRED: 'ERR_GRANT_EXPIRED'
} as const

/** Clock skew tolerated between the registry and a node when checking `issuedAt`. */
export const GRANT_CLOCK_SKEW_MS = 60_000

function toCbor (grant: Grant): Record<string, unknown> {
  return { peer: grant.peer, bucket: grant.bucket, rights: grant.rights, issuedAt: grant.issuedAt, expires: grant.expires }
}

function unsignedBytes (grant: Grant): Uint8Array {
  const body = dagCbor.encode(toCbor(grant))
  const out = new Uint8Array(GRANT_DOMAIN.length + body.length)
  out.set(GRANT_DOMAIN, 0)
  out.set(body, GRANT_DOMAIN.length)
  return out
}

function invalid (what: string): never {
  throw new RokError(GrantErrorCode.INVALID_GRANT, `grant ${what}`)
}

function validateGrantFields (grant: Grant): void {
  try {
    peerIdFromString(grant.peer)
  } catch (cause) {
    throw new RokError(GrantErrorCode.INVALID_GRANT, `grant peer '${grant.peer.slice(0, 80)}' is not a peer ID`, { cause })
  }
  parseBucketName(grant.bucket)
  if (grant.rights.length === 0) invalid('must carry at least one right')
  for (let i = 0; i < grant.rights.length; i++) {
    if (!GRANT_RIGHTS.includes(grant.rights[i])) invalid(`right '${String(grant.rights[i]).slice(0, 20)}' is unknown`)
    if (i > 0 && grant.rights[i - 1] >= grant.rights[i]) invalid('rights must be sorted and unique')
  }
  if (!Number.isSafeInteger(grant.issuedAt) || grant.issuedAt < 0) invalid('issuedAt must be a non-negative integer (ms)')
  if (!Number.isSafeInteger(grant.expires) || grant.expires <= grant.issuedAt) invalid('expires must be an integer after issuedAt')
}

/** Sign a grant with the registry key; returns the DAG-CBOR bytes nodes pass around. */
export async function signGrant (grant: Grant, key: PrivateKey): Promise<{ bytes: Uint8Array, grant: SignedGrant }> {
  const normal: Grant = { ...grant, rights: [...new Set(grant.rights)].sort() }
  validateGrantFields(normal)
  const signature = await key.sign(unsignedBytes(normal))
  const bytes = dagCbor.encode({ ...toCbor(normal), signature })
  return { bytes, grant: { ...normal, signature } }
}

/** Decode grant bytes and check their shape. Does not verify the signature. */
export function decodeGrant (bytes: Uint8Array): SignedGrant {
  if (bytes.length > MAX_GRANT_BYTES) invalid(`is ${bytes.length} bytes, over the ${MAX_GRANT_BYTES}-byte limit`)
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (cause) {
    throw new RokError(GrantErrorCode.INVALID_GRANT, 'grant is not valid DAG-CBOR', { cause })
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) invalid('is not a map')
  const r = raw as Record<string, unknown>
  const allowed = new Set(['peer', 'bucket', 'rights', 'issuedAt', 'expires', 'signature'])
  for (const k of Object.keys(r)) if (!allowed.has(k)) invalid(`field '${k.slice(0, 40)}' is unknown`)
  if (typeof r.peer !== 'string') invalid('peer must be a string')
  if (typeof r.bucket !== 'string') invalid('bucket must be a string')
  if (!Array.isArray(r.rights) || !r.rights.every(x => typeof x === 'string')) invalid('rights must be a list of strings')
  if (typeof r.issuedAt !== 'number') invalid('issuedAt must be a number')
  if (typeof r.expires !== 'number') invalid('expires must be a number')
  if (!(r.signature instanceof Uint8Array)) invalid('signature must be bytes')
  const grant: SignedGrant = {
    peer: r.peer as string,
    bucket: r.bucket as string,
    rights: r.rights as GrantRight[],
    issuedAt: r.issuedAt as number,
    expires: r.expires as number,
    signature: r.signature as Uint8Array
  }
  validateGrantFields(grant)
  return grant
}

/**
 * Check a grant offline: shape, the registry's signature, and that `now` lies within
 * its lifetime. Returns the grant; throws ERR_INVALID_GRANT, ERR_BAD_SIGNATURE or
 * ERR_GRANT_EXPIRED. Callers then check `peer`, `bucket` and `rights` for the request.
 */
export async function verifyGrant (grant: SignedGrant | Uint8Array, registryPublicKey: PublicKey, now: number): Promise<SignedGrant> {
  const g = grant instanceof Uint8Array ? decodeGrant(grant) : grant
  if (!(grant instanceof Uint8Array)) validateGrantFields(g)
  const ok = await registryPublicKey.verify(unsignedBytes(g), g.signature)
  if (!ok) {
    throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `grant for ${g.bucket} is not signed by this registry`, { details: { bucket: g.bucket, peer: g.peer } })
  }
  if (now >= g.expires) {
    throw new RokError(GrantErrorCode.GRANT_EXPIRED, `grant for ${g.bucket} expired at ${new Date(g.expires).toISOString()}; renew it from the registry`,
      { details: { bucket: g.bucket, peer: g.peer, expires: g.expires } })
  }
  if (g.issuedAt > now + GRANT_CLOCK_SKEW_MS) {
    throw new RokError(GrantErrorCode.GRANT_EXPIRED, `grant for ${g.bucket} was issued in the future; check the clocks of this node and the registry`,
      { details: { bucket: g.bucket, peer: g.peer, issuedAt: g.issuedAt } })
  }
  return g
}

/** True when a verified grant covers `peer` doing `right` on `bucket`. */
export function grantAllows (grant: Grant, peer: string, bucket: string, right: GrantRight): boolean {
  return grant.peer === peer && grant.bucket === bucket && grant.rights.includes(right)
}
