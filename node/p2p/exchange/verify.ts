/**
 * Hash verification off the receive path. `crypto.subtle.digest` runs SHA-256 on libuv's
 * thread pool, so the event loop that reads and decrypts the stream does not stop to hash
 * every received block (the synchronous `verifyBlock` in protocol/cid.ts would). The
 * comparison is the same as `bytesMatchCid`: the sha2-256 digest against the CID's.
 */
import { webcrypto } from 'node:crypto'
import type { CID } from '../../../protocol/cid.ts'

export async function blockMatchesCid (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).equals(cid.multihash.digest)
}
