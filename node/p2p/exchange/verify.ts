/**
 * Hash verification off the receive path. Received blocks are copied into a batch buffer
 * (they arrive as views into transport buffers we do not own, so one copy is needed to
 * hand them anywhere) and each batch is transferred, not copied, to a worker thread that
 * hashes it. One message per batch instead of per block matters for 64 KiB chunks: a
 * message costs about what hashing a small block does. The comparison is
 * `bytesMatchCid`'s: the sha2-256 digest against the CID's. With `useWorker: false` the
 * block is hashed inline with `bytesMatchCid` itself.
 */
import { Worker } from 'node:worker_threads'
import { bytesMatchCid, type CID } from '../../../protocol/cid.ts'
import type { HashReply, HashRequest } from './hash-worker.ts'

const WORKER_URL = new URL('./hash-worker.ts', import.meta.url)
/** A batch is sent when it holds this much, or at the end of the current event-loop turn. */
const BATCH_BYTES = 4 * 1024 * 1024

export interface VerifiedBlock {
  ok: boolean
  /** The block's bytes, as a view that stays valid (the batch buffer is handed back). */
  bytes: Uint8Array
}

interface Job {
  cid: CID
  offset: number
  length: number
  resolve: (v: VerifiedBlock) => void
  reject: (e: Error) => void
}

interface Batch {
  buffer: ArrayBuffer
  used: number
  jobs: Job[]
}

export class BlockVerifier {
  private readonly useWorker: boolean
  private worker: Worker | undefined
  private nextId = 0
  private batch: Batch | undefined
  private flushScheduled = false
  private readonly pending = new Map<number, Job[]>()

  /** @param useWorker - false hashes on the calling thread (see ChunkExchangeInit.hashWorker) */
  constructor (useWorker: boolean) {
    this.useWorker = useWorker
  }

  /**
   * The answer at once when hashing on this thread (no promise per block), or undefined
   * when the worker hashes: then call `verify`.
   */
  verifyNow (cid: CID, bytes: Uint8Array): boolean | undefined {
    return this.useWorker ? undefined : bytesMatchCid(cid, bytes)
  }

  async verify (cid: CID, bytes: Uint8Array): Promise<VerifiedBlock> {
    if (!this.useWorker) return { ok: bytesMatchCid(cid, bytes), bytes }
    if (this.batch !== undefined && this.batch.used + bytes.byteLength > this.batch.buffer.byteLength) this.flush()
    if (this.batch === undefined) {
      // not zero-filled: each block is copied in before the batch is sent
      this.batch = { buffer: Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, bytes.byteLength)).buffer as ArrayBuffer, used: 0, jobs: [] }
    }
    const batch = this.batch
    const { promise, resolve, reject } = Promise.withResolvers<VerifiedBlock>()
    new Uint8Array(batch.buffer, batch.used, bytes.byteLength).set(bytes)
    batch.jobs.push({ cid, offset: batch.used, length: bytes.byteLength, resolve, reject })
    batch.used += bytes.byteLength
    if (batch.used >= BATCH_BYTES) this.flush()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; this.flush() })
    }
    return await promise
  }

  private flush (): void {
    const batch = this.batch
    this.batch = undefined
    if (batch === undefined || batch.jobs.length === 0) return
    const id = this.nextId++
    this.pending.set(id, batch.jobs)
    const req: HashRequest = { id, buffer: batch.buffer, ranges: batch.jobs.flatMap(j => [j.offset, j.length]) }
    try {
      this.start().postMessage(req, [batch.buffer])
    } catch (err) {
      this.pending.delete(id)
      for (const job of batch.jobs) job.reject(err as Error)
    }
  }

  private start (): Worker {
    if (this.worker !== undefined) return this.worker
    const worker = new Worker(WORKER_URL)
    // idle hashing must not keep a process alive
    worker.unref()
    worker.on('message', (reply: HashReply) => {
      const jobs = this.pending.get(reply.id)
      if (jobs === undefined) return
      this.pending.delete(reply.id)
      jobs.forEach((job, i) => {
        const digest = Buffer.from(reply.digests.buffer, reply.digests.byteOffset + i * 32, 32)
        job.resolve({ ok: digest.equals(job.cid.multihash.digest), bytes: new Uint8Array(reply.buffer, job.offset, job.length) })
      })
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
    for (const jobs of this.pending.values()) for (const job of jobs) job.reject(err)
    this.pending.clear()
  }

  async stop (): Promise<void> {
    const worker = this.worker
    this.worker = undefined
    if (worker !== undefined) await worker.terminate()
  }
}
