/**
 * Node proof: a node registering with the registry signs a registry-issued challenge
 * with its Ed25519 libp2p key, proving it holds the key behind its peer ID. The signed
 * bytes are a domain tag, the challenge and the peer ID, so the signature is useless as
 * a version record or grant and useless for any other peer or challenge.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ProtocolErrorCode, RokError } from './errors.ts'

export const NODE_PROOF_DOMAIN = new TextEncoder().encode('rok/node-proof/1\0')
export const CHALLENGE_BYTES = 32

export function nodeProofBytes (challenge: Uint8Array, peer: string): Uint8Array {
  const peerBytes = new TextEncoder().encode(peer)
  const out = new Uint8Array(NODE_PROOF_DOMAIN.length + challenge.length + peerBytes.length)
  out.set(NODE_PROOF_DOMAIN, 0)
  out.set(challenge, NODE_PROOF_DOMAIN.length)
  out.set(peerBytes, NODE_PROOF_DOMAIN.length + challenge.length)
  return out
}

export async function signNodeProof (challenge: Uint8Array, key: PrivateKey): Promise<{ peer: string, signature: Uint8Array }> {
  const peer = peerIdFromPrivateKey(key).toString()
  return { peer, signature: await key.sign(nodeProofBytes(challenge, peer)) }
}

/** Throws ERR_BAD_SIGNATURE unless `signature` is `peer`'s Ed25519 signature of the challenge. */
export async function verifyNodeProof (challenge: Uint8Array, peer: string, signature: Uint8Array): Promise<void> {
  let publicKey
  try {
    publicKey = peerIdFromString(peer).publicKey
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `'${peer.slice(0, 80)}' is not a peer ID`, { cause })
  }
  if (publicKey === undefined || publicKey.type !== 'Ed25519') {
    throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, 'node peer ID must embed an Ed25519 key')
  }
  let ok = false
  try {
    ok = await publicKey.verify(nodeProofBytes(challenge, peer), signature)
  } catch {
    ok = false
  }
  if (!ok) throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `challenge signature does not verify for peer ${peer}`)
}
