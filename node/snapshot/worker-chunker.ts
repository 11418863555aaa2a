/**
 * The snapshot's side of chunk-worker.ts: files are queued in manifest order (ahead of
 * time, so the worker reads while this thread stores), and each file's chunks come back
 * as batches of [CID, bytes] to store. A batch's bytes live in a buffer that goes back
 * to the worker on `release()`: store them (the block stores copy) before releasing.
 */
import { Worker } from 'node:worker_threads'
import { chunkCidFromDigest, type CID } from '../../protocol/cid.ts'
import { findCut } from '../chunker/fastcdc.ts'
import { GEAR } from '../chunker/gear.ts'
import { masksFor, type ChunkerParams } from '../chunker/params.ts'
import { chunkWorkerMain, type ChunkWorkerData, type FromWorker, type FromWorkerBatch, type ToWorker } from './chunk-worker.ts'
import { READ_SIZE } from './read-file.ts'

export interface ChunkedBatch {
  blocks: Array<[CID, Uint8Array]>
  /** Hand the batch's buffer back to the worker; its bytes are unusable afterwards. */
  release: () => void
}

/** What the worker saw of the file once it had read it. */
export interface FileEnd {
  read: number
  size: bigint
  mtimeNs: bigint
}

/** A file the worker could not open or read: `code` is the errno code (ENOENT, EACCES…). */
export class WorkerReadError extends Error {
  readonly code: string | undefined
  constructor (code: string | undefined, message: string) {
    super(message)
    this.code = code
  }
}

interface JobState {
  messages: FromWorker[]
  wake?: () => void
}

/**
 * The worker's program: chunkWorkerMain and findCut as the JavaScript Node already made
 * of them, with the gear table findCut reads (see chunk-worker.ts for why not a file).
 */
const WORKER_SOURCE = `'use strict'
const { workerData, parentPort } = require('node:worker_threads')
const GEAR = workerData.gear
const findCut = ${findCut.toString()}
;(${chunkWorkerMain.toString()})({ data: workerData.chunk, port: parentPort, hash: require('node:crypto').hash, open: require('node:fs/promises').open, fs: require('node:fs'), findCut })
`

const POOL_SIZE = 4
const SMALL_MAX = 1024 * 1024
const READ_AHEAD = 32

export class WorkerChunker {
  private readonly worker: Worker
  private readonly jobs = new Map<number, JobState>()
  private nextId = 0
  private failure: Error | undefined

  constructor (params: ChunkerParams) {
    const chunk: ChunkWorkerData = { params, masks: masksFor(params), readSize: READ_SIZE, poolSize: POOL_SIZE, smallMax: SMALL_MAX, readAhead: READ_AHEAD }
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { chunk, gear: GEAR } })
    this.worker.on('message', (batch: FromWorkerBatch) => {
      for (const msg of batch) {
        const job = this.jobs.get(msg.id)
        if (job === undefined) continue
        job.messages.push(msg)
        job.wake?.()
      }
    })
    const fail = (err: Error): void => {
      this.failure ??= err
      for (const job of this.jobs.values()) job.wake?.()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', code => { fail(new Error(`the chunking worker exited (code ${code})`)) })
  }

  /** Queue a file (`size` -1: read to its end); its chunks come from `chunks(id)`, in order. */
  enqueue (path: string, size: number): number {
    const id = this.nextId++
    this.jobs.set(id, { messages: [] })
    this.worker.postMessage({ type: 'job', id, path, size } satisfies ToWorker)
    return id
  }

  /** The chunks of a queued file; returns what the worker saw of the file at its end. */
  async * chunks (id: number, signal?: AbortSignal): AsyncGenerator<ChunkedBatch, FileEnd> {
    const job = this.jobs.get(id)
    if (job === undefined) throw new Error(`no queued file ${id}`)
    try {
      while (true) {
        signal?.throwIfAborted()
        const msg = job.messages.shift()
        if (msg === undefined) {
          if (this.failure !== undefined) throw this.failure
          await new Promise<void>(resolve => { job.wake = resolve })
          job.wake = undefined
          continue
        }
        if (msg.type === 'error') throw new WorkerReadError(msg.code, msg.message)
        if (msg.type === 'end') return { read: msg.read, size: BigInt(msg.size), mtimeNs: BigInt(msg.mtimeNs) }
        yield this.batch(msg)
      }
    } finally {
      this.jobs.delete(id)
    }
  }

  private batch (msg: Extract<FromWorker, { type: 'piece' }>): ChunkedBatch {
    const blocks: Array<[CID, Uint8Array]> = []
    let at = msg.start
    for (let i = 0; i < msg.lengths.length; i++) {
      const len = msg.lengths[i]
      const cid = chunkCidFromDigest(msg.digests.subarray(i * 32, i * 32 + 32))
      blocks.push([cid, new Uint8Array(msg.buffer, at, len)])
      at += len
    }
    const release = (): void => {
      if (msg.pooled && this.failure === undefined) this.worker.postMessage({ type: 'release', buffer: msg.buffer } satisfies ToWorker, [msg.buffer])
    }
    return { blocks, release }
  }

  async close (): Promise<void> {
    this.failure ??= new Error('the chunking worker was closed')
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }
}
