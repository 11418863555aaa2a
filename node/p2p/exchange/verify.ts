/**
 * Hash verification off the receive path. A worker thread hashes each received block; the
 * block's buffer is transferred there and back, not copied, so the event loop that reads
 * and decrypts the stream spends microseconds per block instead of the ~0.6 ms a 1 MiB
 * SHA-256 takes (`verifyBlock` in protocol/cid.ts, run inline, would). The comparison is
 * `bytesMatchCid`'s: the sha2-256 digest against the CID's. A block that is a view into a
 * larger buffer (a transport buffer we do not own) is copied first: a copy costs a sixth
 * of a hash. Tiny blocks are hashed inline, where a round trip would cost more than the hash.
 */
import { Worker } from 'node:worker_threads'
import { bytesMatchCid, type CID } from '../../../protocol/cid.ts'
import type { HashReply, HashRequest } from './hash-worker.ts'

const WORKER_URL = new URL('./hash-worker.ts', import.meta.url)
/** Below this a block is hashed on the calling thread (~10 µs; a worker round trip costs more). */
const INLINE_HASH_BYTES = 16 * 1024

export interface VerifiedBlock {
  ok: boolean
  /** The same bytes, usable again (the original view was detached by the transfer). */
  bytes: Uint8Array
}

export class BlockVerifier {
  private readonly useWorker: boolean
  private worker: Worker | undefined
  private nextId = 0
  private readonly pending = new Map<number, { cid: CID, offset: number, length: number, resolve: (v: VerifiedBlock) => void, reject: (e: Error) => void }>()

  /** @param useWorker - false hashes on the calling thread (see ChunkExchangeInit.hashWorker) */
  constructor (useWorker: boolean) {
    this.useWorker = useWorker
  }

  async verify (cid: CID, bytes: Uint8Array): Promise<VerifiedBlock> {
    if (!this.useWorker || bytes.byteLength < INLINE_HASH_BYTES) return { ok: bytesMatchCid(cid, bytes), bytes }
    const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    if (!whole) {
      const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
      copy.set(bytes)
      bytes = copy
    }
    const buffer = bytes.buffer as ArrayBuffer
    const worker = this.start()
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers<VerifiedBlock>()
    this.pending.set(id, { cid, offset: bytes.byteOffset, length: bytes.byteLength, resolve, reject })
    const req: HashRequest = { id, buffer, offset: bytes.byteOffset, length: bytes.byteLength }
    worker.postMessage(req, [buffer])
    return await promise
  }

  private start (): Worker {
    if (this.worker !== undefined) return this.worker
    const worker = new Worker(WORKER_URL)
    // idle hashing must not keep a process alive
    worker.unref()
    worker.on('message', (reply: HashReply) => {
      const job = this.pending.get(reply.id)
      if (job === undefined) return
      this.pending.delete(reply.id)
      const digest = Buffer.from(reply.digest.buffer, reply.digest.byteOffset, reply.digest.byteLength)
      job.resolve({ ok: digest.equals(job.cid.multihash.digest), bytes: new Uint8Array(reply.buffer, job.offset, job.length) })
    })
    worker.on('error', (err: Error) => { this.failAll(err) })
    worker.on('exit', () => {
      this.worker = undefined
      this.failAll(new Error('hash worker exited'))
    })
    this.worker = worker
    return worker
  }

  private failAll (err: Error): void {
    for (const job of this.pending.values()) job.reject(err)
    this.pending.clear()
  }

  async stop (): Promise<void> {
    const worker = this.worker
    this.worker = undefined
    if (worker !== undefined) await worker.terminate()
  }
}
