/**
 * Worker thread that reads files, cuts them into content-defined chunks and hashes them,
 * so that the snapshot's event loop only stores blocks and builds the manifest: the two
 * halves run on two cores. Files are taken in the order they are asked for (the manifest
 * needs that order); small ones are read ahead concurrently, large ones stream through a
 * pool of buffers that the main thread hands back once their chunks are stored, which
 * bounds memory and lets the reader run at most a pool ahead.
 *
 * A piece is one buffer plus the lengths and SHA-256 digests of the chunks it holds from
 * `start` on. Large pieces are transferred; a small file's (up to COPY_MAX) is copied,
 * which costs less than a transfer. Small files are read through the callback API on plain
 * descriptors (a FileHandle and a promise per call cost more than the read), and opened,
 * stat-ed and closed with blocking calls: the walk has just read their folder and inodes,
 * so these are cache hits, cheaper than a hand-off to libuv's pool and back (which wakes a
 * thread on a 2-core machine for each). Only the read, which may wait for the disk, goes
 * to the pool. The messages of one turn of the event loop go together. The few bytes after the
 * last cut of a buffer (under one maximum chunk) are copied to the front of the next one.
 *
 * The worker runs as plain JavaScript built from this function's source and findCut's
 * (Node strips their types when it loads them), so it needs neither the TypeScript
 * loader (about 18 MB per thread) nor a second copy of the chunker: everything it uses
 * is inside chunkWorkerMain or passed in `deps`.
 */
import type { hash } from 'node:crypto'
import type * as fs from 'node:fs'
import type { FileHandle, open } from 'node:fs/promises'
import type { MessagePort } from 'node:worker_threads'
import type { findCut } from '../chunker/fastcdc.ts'
import type { ChunkerParams, Masks } from '../chunker/params.ts'

export interface ChunkWorkerData {
  params: ChunkerParams
  masks: Masks
  /** Bytes read per large-file read. */
  readSize: number
  /** Buffers in the pool for large files. */
  poolSize: number
  /** Files up to this size are read whole, several at once. */
  smallMax: number
  /** Small files read ahead of the one being chunked. */
  readAhead: number
}

export type ToWorker =
  | { type: 'job', id: number, path: string, /** -1: read to EOF (block devices) */ size: number }
  | { type: 'release', buffer: ArrayBuffer }

export type FromWorker =
  | { type: 'piece', id: number, buffer: ArrayBuffer, start: number, lengths: Uint32Array, digests: Uint8Array, pooled: boolean }
  | { type: 'end', id: number, read: number, size: string, mtimeNs: string }
  | { type: 'error', id: number, code: string | undefined, message: string }

/** Sent together: the messages of one turn of the worker's event loop (one message costs more than a small file's work). */
export type FromWorkerBatch = FromWorker[]

export interface ChunkWorkerDeps {
  data: ChunkWorkerData
  port: MessagePort
  hash: typeof hash
  open: typeof open
  /** Small files go through the callback API on plain descriptors: no FileHandle object and promise per call. */
  fs: Pick<typeof fs, 'openSync' | 'read' | 'fstatSync' | 'closeSync'>
  findCut: typeof findCut
}

interface Job { id: number, path: string, size: number, small?: Promise<SmallRead> }
interface SmallRead { bytes?: Uint8Array, read: number, size: string, mtimeNs: string, error?: { code: string | undefined, message: string } }

export function chunkWorkerMain (deps: ChunkWorkerDeps): void {
  const { data: init, port, hash, open, fs, findCut } = deps
  const { params, masks } = init
  // room in front of each pooled buffer for the carried tail (always under maxSize)
  const HEAD = params.maxSize
  /** Pieces up to this size are copied to the main thread, not transferred. */
  const COPY_MAX = 64 * 1024

  const pool: ArrayBuffer[] = []
  const poolWaiters: Array<(b: ArrayBuffer) => void> = []
  for (let i = 0; i < init.poolSize; i++) pool.push(new ArrayBuffer(HEAD + init.readSize))

  async function takeBuffer (): Promise<ArrayBuffer> {
    const b = pool.pop()
    if (b !== undefined) return b
    return await new Promise(resolve => poolWaiters.push(resolve))
  }

  function giveBack (b: ArrayBuffer): void {
    const waiter = poolWaiters.shift()
    if (waiter !== undefined) waiter(b)
    else pool.push(b)
  }

  const queue: Job[] = []
  let wake: (() => void) | undefined

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'release') { giveBack(msg.buffer); return }
    queue.push({ id: msg.id, path: msg.path, size: msg.size })
    wake?.()
  })

  let outbox: FromWorker[] = []
  let transfers: ArrayBuffer[] = []
  let copied: ArrayBuffer[] = []
  function flush (): void {
    const batch: FromWorkerBatch = outbox
    port.postMessage(batch, transfers)
    // copies went with the message: free these now, as this thread allocates too little
    // JavaScript for its GC to come round to them soon (transfer(0) drops the memory)
    for (const b of copied) b.transfer(0)
    outbox = []
    transfers = []
    copied = []
  }
  function post (msg: FromWorker, transfer: ArrayBuffer[] = [], copy?: ArrayBuffer): void {
    if (outbox.length === 0) setImmediate(flush)
    outbox.push(msg)
    for (const t of transfer) transfers.push(t)
    if (copy !== undefined) copied.push(copy)
  }

  function errorOf (err: unknown): { code: string | undefined, message: string } {
    return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message }
  }

  /** Cut `view[from, end)`; returns where the unconsumed tail starts. */
  function cut (view: Uint8Array, from: number, end: number, final: boolean, lengths: number[], out: Uint8Array[]): number {
    let pos = from
    while (pos < end) {
      const len = findCut(view, pos, end, params, masks, final)
      if (len <= 0) break
      lengths.push(len)
      out.push(hash('sha256', view.subarray(pos, pos + len), 'buffer'))
      pos += len
    }
    return pos
  }

  function send (id: number, buffer: ArrayBuffer, start: number, lengths: number[], hashes: Uint8Array[], pooled: boolean): void {
    const digests = new Uint8Array(hashes.length * 32)
    for (let i = 0; i < hashes.length; i++) digests.set(hashes[i], i * 32)
    const msg: FromWorker = { type: 'piece', id, buffer, start, lengths: Uint32Array.from(lengths), digests, pooled }
    // a small file's bytes are copied rather than transferred: a transfer costs more than
    // copying a few KiB (pooled buffers must go back and forth: always transferred)
    if (pooled || buffer.byteLength > COPY_MAX) post(msg, [buffer])
    else post(msg, [], buffer)
  }

  const readFd = (fd: number, into: Uint8Array, off: number): Promise<number> => new Promise((resolve, reject) => {
    fs.read(fd, into, off, into.length - off, off, (err, n) => { if (err !== null) reject(err); else resolve(n) })
  })

  async function readSmall (job: Job): Promise<SmallRead> {
    let fd = -1
    try {
      fd = fs.openSync(job.path, 'r')
      // its own ArrayBuffer (not Node's shared pool), so it can be transferred; not
      // cleared first: every byte kept is read over
      const bytes = new Uint8Array(Buffer.allocUnsafeSlow(job.size).buffer, 0, job.size)
      let off = 0
      while (off < bytes.length) {
        const bytesRead = await readFd(fd, bytes, off)
        if (bytesRead === 0) break
        off += bytesRead
      }
      const after = fs.fstatSync(fd, { bigint: true })
      return { bytes: bytes.subarray(0, off), read: off, size: after.size.toString(), mtimeNs: after.mtimeNs.toString() }
    } catch (err) {
      return { read: 0, size: '0', mtimeNs: '0', error: errorOf(err) }
    } finally {
      if (fd >= 0) fs.closeSync(fd)
    }
  }

  async function chunkSmall (job: Job): Promise<void> {
    const r = await job.small!
    if (r.error !== undefined) { post({ type: 'error', id: job.id, ...r.error } satisfies FromWorker); return }
    const bytes = r.bytes!
    const lengths: number[] = []
    const hashes: Uint8Array[] = []
    cut(bytes, 0, bytes.length, true, lengths, hashes)
    if (lengths.length > 0) send(job.id, bytes.buffer as ArrayBuffer, 0, lengths, hashes, false)
    post({ type: 'end', id: job.id, read: r.read, size: r.size, mtimeNs: r.mtimeNs } satisfies FromWorker)
  }

  async function chunkLarge (job: Job): Promise<void> {
    let fd: FileHandle | undefined
    try {
      fd = await open(job.path, 'r')
      let position = 0
      const readInto = async (buffer: ArrayBuffer): Promise<number> => {
        const want = job.size < 0 ? init.readSize : Math.min(init.readSize, job.size - position)
        if (want <= 0) return 0
        const view = new Uint8Array(buffer, HEAD, init.readSize)
        let got = 0
        while (got < want) {
          const { bytesRead } = await fd!.read(view, got, want - got, position + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        position += got
        return got
      }
      let buffer = await takeBuffer()
      let tail = 0
      let got = await readInto(buffer)
      while (true) {
        const eof = got === 0 || (job.size >= 0 && position >= job.size)
        // read the next buffer while this one is cut (the read runs in libuv's pool)
        let next: Promise<[ArrayBuffer, number]> | undefined
        if (!eof) next = takeBuffer().then(async b => [b, await readInto(b)])
        const view = new Uint8Array(buffer)
        const from = HEAD - tail
        const end = HEAD + got
        const lengths: number[] = []
        const hashes: Uint8Array[] = []
        const rest = cut(view, from, end, eof, lengths, hashes)
        if (next === undefined) {
          if (lengths.length > 0) send(job.id, buffer, from, lengths, hashes, true)
          else giveBack(buffer)
          break
        }
        const [nextBuffer, nextGot] = await next
        tail = end - rest
        new Uint8Array(nextBuffer, HEAD - tail, tail).set(view.subarray(rest, end))
        if (lengths.length > 0) send(job.id, buffer, from, lengths, hashes, true)
        else giveBack(buffer)
        buffer = nextBuffer
        got = nextGot
      }
      const after = await fd.stat({ bigint: true })
      post({ type: 'end', id: job.id, read: position, size: after.size.toString(), mtimeNs: after.mtimeNs.toString() } satisfies FromWorker)
    } catch (err) {
      post({ type: 'error', id: job.id, ...errorOf(err) } satisfies FromWorker)
    } finally {
      await fd?.close().catch(() => {})
    }
  }

  const isSmall = (job: Job): boolean => job.size >= 0 && job.size <= init.smallMax

  async function run (): Promise<void> {
    while (true) {
      if (queue.length === 0) await new Promise<void>(resolve => { wake = resolve })
      wake = undefined
      const job = queue.shift()!
      // start reading the next small files while this one is cut
      for (let i = 0, started = 0; i < queue.length && started < init.readAhead; i++) {
        const j = queue[i]
        if (!isSmall(j)) break
        j.small ??= readSmall(j)
        started++
      }
      if (isSmall(job)) {
        job.small ??= readSmall(job)
        await chunkSmall(job)
      } else {
        await chunkLarge(job)
      }
    }
  }

  void run()
}
