/**
 * Checks each received block against its CID. With the worker on, a block that lies in
 * shared memory (the data channel decrypts blocks straight into the arena's
 * SharedArrayBuffer slabs) is hashed on a worker thread where it lies: blocks go in
 * batches, one message of ranges and expected digests each, with no copy either way.
 * That takes SHA-256, the largest single cost of a fetching node's event loop (~0.8 s
 * per GiB), off the thread that reads the streams. Any other block, and every
 * block with the worker off, is hashed at once on the calling thread with `bytesMatchCid`.
 * If the worker dies, what it held is hashed on the calling thread and the worker is not
 * used again: a check always ends with an answer.
 *
 * Each shared buffer is sent to the worker once and kept there (a buffer sent with every
 * message became a new object in the worker each time, and its memory stayed allocated
 * until the worker's collector found it). A worker idle for WORKER_IDLE_MS is ended,
 * which lets go of every buffer it held, and `onIdle` runs (the arena then frees its
 * spare slabs); the next block starts a new one.
 */
import { Worker } from 'node:worker_threads'
import { bytesMatchCid, SHA2_256, type CID } from '../../../protocol/cid.ts'
import { HASH_WORKER_SOURCE, type HashReply, type HashRequest } from './hash-worker.ts'

/**
 * A batch goes to the worker when it holds this many blocks or bytes, or at the end of
 * an event-loop turn in which the worker has nothing left to hash: while it is busy,
 * blocks gather into larger batches (one message per turn cost ~0.2 s per GiB).
 */
const BATCH_BLOCKS = 256
const BATCH_BYTES = 4 * 1024 * 1024
/** A worker with nothing to hash for this long is ended. */
const WORKER_IDLE_MS = 2000

export type VerifyDone = (ok: boolean) => void

interface Job {
  cid: CID
  bytes: Uint8Array
  done: VerifyDone
}

interface Batch {
  /** Buffers the worker has not seen yet, with their ids. */
  slabs: Array<[number, SharedArrayBuffer]>
  ranges: Int32Array
  expected: Uint8Array
  jobs: Job[]
  bytes: number
}

export class BlockVerifier {
  private useWorker: boolean
  private readonly onIdle: (() => void) | undefined
  private worker: Worker | undefined
  /** Ids of the shared buffers the current worker holds. */
  private slabIds = new WeakMap<SharedArrayBuffer, number>()
  private nextSlabId = 0
  private nextId = 0
  private batch: Batch | undefined
  private flushScheduled = false
  private readonly pending = new Map<number, Job[]>()
  private idleTimer: NodeJS.Timeout | undefined

  /**
   * @param useWorker - false hashes on the calling thread (see ChunkExchangeInit.hashWorker)
   * @param onIdle - runs when an idle worker has been ended
   */
  constructor (useWorker: boolean, onIdle?: () => void) {
    this.useWorker = useWorker
    this.onIdle = onIdle
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
    let slab = this.slabIds.get(bytes.buffer)
    if (slab === undefined) {
      slab = this.nextSlabId++
      this.slabIds.set(bytes.buffer, slab)
      batch.slabs.push([slab, bytes.buffer])
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
      setImmediate(() => {
        this.flushScheduled = false
        if (this.pending.size === 0) this.flush()
      })
    }
  }

  private flush (): void {
    const batch = this.batch
    this.batch = undefined
    if (batch === undefined || batch.jobs.length === 0) return
    const id = this.nextId++
    const count = batch.jobs.length
    this.pending.set(id, batch.jobs)
    const req: HashRequest = { id, count, slabs: batch.slabs, ranges: batch.ranges, expected: batch.expected }
    try {
      this.start().postMessage(req, [req.ranges.buffer as ArrayBuffer, req.expected.buffer as ArrayBuffer])
    } catch {
      // no worker to hash with (it could not start, or refused the message): as if it had died
      const worker = this.worker
      this.workerGone(worker)
      void worker?.terminate()
    }
  }

  private start (): Worker {
    if (this.worker !== undefined) return this.worker
    const worker = new Worker(HASH_WORKER_SOURCE, { eval: true })
    // idle hashing must not keep a process alive
    worker.unref()
    worker.on('message', (reply: HashReply) => {
      const jobs = this.pending.get(reply.id)
      if (jobs === undefined) return
      this.pending.delete(reply.id)
      for (let i = 0; i < jobs.length; i++) jobs[i].done(reply.ok[i] === 1)
      if (this.pending.size > 0) return
      // what gathered while the worker was busy
      if (this.batch !== undefined) this.flush()
      else this.idleCheck()
    })
    worker.on('error', () => { this.workerGone(worker) })
    worker.on('exit', () => { this.workerGone(worker) })
    this.worker = worker
    return worker
  }

  /** End the worker once it has had nothing to do for WORKER_IDLE_MS. */
  private idleCheck (): void {
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh()
      return
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined
      const worker = this.worker
      if (worker === undefined) return
      if (this.pending.size > 0 || this.batch !== undefined) {
        this.idleCheck()
        return
      }
      this.worker = undefined
      this.slabIds = new WeakMap()
      worker.removeAllListeners('exit')
      worker.removeAllListeners('error')
      // an 'error' with no listener would be thrown
      worker.on('error', () => {})
      worker.terminate().then(() => { this.onIdle?.() }, () => {})
    }, WORKER_IDLE_MS)
    this.idleTimer.unref()
  }

  /** The worker failed or was stopped: what it held is checked here, and so is everything after. */
  private workerGone (worker: Worker | undefined): void {
    if (this.worker === worker) this.worker = undefined
    this.useWorker = false
    const held = [...this.pending.values()]
    this.pending.clear()
    // and what was gathering for it
    if (this.batch !== undefined) held.push(this.batch.jobs)
    this.batch = undefined
    for (const jobs of held) hashHere(jobs)
    // nothing holds the slabs it was sent any more
    this.onIdle?.()
  }

  async stop (): Promise<void> {
    this.flush()
    this.useWorker = false
    clearTimeout(this.idleTimer)
    const worker = this.worker
    if (worker !== undefined) await worker.terminate()
  }
}

function newBatch (): Batch {
  return { slabs: [], ranges: new Int32Array(3 * BATCH_BLOCKS), expected: new Uint8Array(32 * BATCH_BLOCKS), jobs: [], bytes: 0 }
}

function hashHere (jobs: Job[]): void {
  for (const job of jobs) job.done(bytesMatchCid(job.cid, job.bytes))
}
