/**
 * Worker thread that hashes received blocks, so the event loop that reads and decrypts
 * the stream never stops to hash. Blocks come in and go back as transferred buffers (no copy).
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

export interface HashRequest { id: number, buffer: ArrayBuffer, offset: number, length: number }
export interface HashReply { id: number, digest: Uint8Array, buffer: ArrayBuffer }

parentPort?.on('message', (req: HashRequest) => {
  const digest = createHash('sha256').update(new Uint8Array(req.buffer, req.offset, req.length)).digest()
  const reply: HashReply = { id: req.id, digest, buffer: req.buffer }
  parentPort!.postMessage(reply, [req.buffer])
})
