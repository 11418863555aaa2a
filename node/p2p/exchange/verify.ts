/**
 * Checks each received block against its CID. With the worker on, a block that lies in
 * shared memory (the data channel decrypts blocks straight into the arena's
 * SharedArrayBuffer slabs) is hashed on a worker thread where it lies: the blocks of one
 * event-loop turn go in one message of ranges and expected digests, with no copy either
 * way. That takes SHA-256, the largest single cost of a fetching node's event loop
 * (~0.8 s per GiB), off the thread that reads the streams. Any other block, and every
 * block with the worker off, is hashed at once on the calling thread with `bytesMatchCid`.
 * If the worker dies, what it held is hashed on the calling thread and the worker is not
 * used again: a check always ends with an answer.
 */
import { Worker } from 'node:worker_threads'
import { bytesMatchCid, SHA2_256, type CID } from '../../../protocol/cid.ts'
import type { HashReply, HashRequest } from './hash-worker.ts'

const WORKER_URL = new URL('./hash-worker.ts', import.meta.url)
/** A batch goes to the worker when it holds this many blocks or bytes, or at the end of the turn. */
const BATCH_BLOCKS = 128
const BATCH_BYTES = 1024 * 1024

export type VerifyDone = (ok: boolean) => void

interface Job {
  cid: CID
  bytes: Uint8Array
  done: VerifyDone
}

interface Batch {
  slabs: SharedArrayBuffer[]
  slabIndex: Map<SharedArrayBuffer, number>
  ranges: Int32Array
  expected: Uint8Array
  jobs: Job[]
  bytes: number
}

export class BlockVerifier {
  private useWorker: boolean
  private worker: Worker | undefined
  private nextId = 0
  private batch: Batch | undefined
  private flushScheduled = false
  private readonly pending = new Map<number, Job[]>()

  /** @param useWorker - false hashes on the calling thread (see ChunkExchangeInit.hashWorker) */
  constructor (useWorker: boolean) {
    this.useWorker = useWorker
  }

  /** Whether received blocks should be put in shared memory, where the worker can hash them. */
  get sharedMemory (): boolean {
    return this.useWorker
  }

  /**
   * Calls `done` with whether `bytes` hash to `cid`: at once, or once the worker has
   * hashed them. `bytes` must not change until then.
   */
  check (cid: CID, bytes: Uint8Array, done: VerifyDone): void {
    const digest = cid.multihash.digest
    if (!this.useWorker || !(bytes.buffer instanceof SharedArrayBuffer) || cid.multihash.code !== SHA2_256 || digest.byteLength !== 32) {
      done(bytesMatchCid(cid, bytes))
      return
    }
    const batch = this.batch ??= newBatch()
    let slab = batch.slabIndex.get(bytes.buffer)
    if (slab === undefined) {
      slab = batch.slabs.push(bytes.buffer) - 1
      batch.slabIndex.set(bytes.buffer, slab)
    }
    const i = batch.jobs.length
    batch.ranges[3 * i] = slab
    batch.ranges[3 * i + 1] = bytes.byteOffset
    batch.ranges[3 * i + 2] = bytes.byteLength
    batch.expected.set(digest, 32 * i)
    batch.jobs.push({ cid, bytes, done })
    batch.bytes += bytes.byteLength
    if (batch.jobs.length === BATCH_BLOCKS || batch.bytes >= BATCH_BYTES) this.flush()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; this.flush() })
    }
  }

  private flush (): void {
    const batch = this.batch
    this.batch = undefined
    if (batch === undefined || batch.jobs.length === 0) return
    const id = this.nextId++
    const count = batch.jobs.length
    this.pending.set(id, batch.jobs)
    const req: HashRequest = { id, slabs: batch.slabs, ranges: batch.ranges.slice(0, 3 * count), expected: batch.expected.slice(0, 32 * count) }
    try {
      this.start().postMessage(req, [req.ranges.buffer as ArrayBuffer, req.expected.buffer as ArrayBuffer])
    } catch {
      this.pending.delete(id)
      this.useWorker = false
      hashHere(batch.jobs)
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
      for (let i = 0; i < jobs.length; i++) jobs[i].done(reply.ok[i] === 1)
    })
    worker.on('error', () => { this.workerGone(worker) })
    worker.on('exit', () => { this.workerGone(worker) })
    this.worker = worker
    return worker
  }

  /** The worker failed or was stopped: what it held is checked here, and so is everything after. */
  private workerGone (worker: Worker): void {
    if (this.worker === worker) this.worker = undefined
    this.useWorker = false
    const held = [...this.pending.values()]
    this.pending.clear()
    for (const jobs of held) hashHere(jobs)
  }

  async stop (): Promise<void> {
    this.flush()
    this.useWorker = false
    const worker = this.worker
    if (worker !== undefined) await worker.terminate()
  }
}

function newBatch (): Batch {
  return { slabs: [], slabIndex: new Map(), ranges: new Int32Array(3 * BATCH_BLOCKS), expected: new Uint8Array(32 * BATCH_BLOCKS), jobs: [], bytes: 0 }
}

function hashHere (jobs: Job[]): void {
  for (const job of jobs) job.done(bytesMatchCid(job.cid, job.bytes))
}
