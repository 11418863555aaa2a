/**
 * Node proof: a node registering with the registry signs a registry-issued challenge
 * with its Ed25519 libp2p key, proving it holds the key behind its peer ID. The signed
 * bytes are a domain tag, the challenge and the peer ID, so the signature is useless as
 * a version record or grant and useless for any other peer or challenge.
 */
import { peerIdOfSigner, publicKeyOfPeerId, verifyEd25519, type Ed25519Signer } from './ed25519.ts'
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

export async function signNodeProof (challenge: Uint8Array, key: Ed25519Signer): Promise<{ peer: string, signature: Uint8Array }> {
  const peer = peerIdOfSigner(key)
  return { peer, signature: await key.sign(nodeProofBytes(challenge, peer)) }
}

/** Throws ERR_BAD_SIGNATURE unless `signature` is `peer`'s Ed25519 signature of the challenge. */
export async function verifyNodeProof (challenge: Uint8Array, peer: string, signature: Uint8Array): Promise<void> {
  let publicKey: Uint8Array
  try {
    publicKey = publicKeyOfPeerId(peer)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `node ${(cause as Error).message}`, { cause })
  }
  const ok = verifyEd25519(publicKey, nodeProofBytes(challenge, peer), signature)
  if (!ok) throw new RokError(ProtocolErrorCode.BAD_SIGNATURE, `challenge signature does not verify for peer ${peer}`)
}
