/**
 * Worker thread that hashes received blocks, so the event loop that reads and decrypts
 * the streams never stops to hash. Blocks arrive in batches packed into one transferred
 * buffer (no copy either way); the reply carries one 32-byte SHA-256 digest per block.
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

export interface HashRequest {
  id: number
  buffer: ArrayBuffer
  /** offset, length pairs of each block in `buffer` */
  ranges: number[]
}

export interface HashReply {
  id: number
  buffer: ArrayBuffer
  /** 32 bytes per block, in request order */
  digests: Uint8Array
}

parentPort?.on('message', (req: HashRequest) => {
  const count = req.ranges.length / 2
  const digests = new Uint8Array(count * 32)
  for (let i = 0; i < count; i++) {
    const block = new Uint8Array(req.buffer, req.ranges[2 * i], req.ranges[2 * i + 1])
    digests.set(createHash('sha256').update(block).digest(), i * 32)
  }
  const reply: HashReply = { id: req.id, buffer: req.buffer, digests }
  parentPort!.postMessage(reply, [req.buffer, digests.buffer])
})
