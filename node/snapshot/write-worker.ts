/**
 * Restore's file writes, as one handler of file operations that runs either on a worker
 * thread (so that a restore uses two cores: this thread reads the store and walks the
 * manifest, the worker verifies and writes) or in place, for small restores that would
 * not repay starting a thread. One code path, two transports (worker-writer.ts).
 *
 * An operation carries any of: open a new file, write blocks at positions, finish the
 * file (size, mode, mtime) and close it. Blocks are verified against their SHA-256 digest
 * (when given: the bytes came from the store unverified) before anything is written, so
 * a corrupt chunk never reaches the file. All-zero blocks are skipped (holes), a file
 * that ends in one gets its size from ftruncate, as restore.ts always did.
 *
 * Like chunk-worker.ts, the handler runs as plain JavaScript built from these functions'
 * source, so it may use only what is inside them or passed in `deps`.
 */
import type { hash } from 'node:crypto'
import type * as fs from 'node:fs'
import type { MessagePort } from 'node:worker_threads'

export interface BlocksToWrite {
  /** The memory the blocks are in (transferred to the worker, so the thread's own). */
  buffers: ArrayBuffer[]
  /** Per block: index into `buffers`, byte offset, length. */
  where: Uint32Array
  /** Per block: its position in the file. */
  positions: Float64Array
  /** Per block: 32 bytes of SHA-256 to check first; absent when already verified. */
  digests?: Uint8Array
}

export interface FileOp {
  id: number
  open?: { path: string, /** creation mode (then masked by the umask) */ mode: number }
  write?: BlocksToWrite
  close?: { size: number, /** -1: leave the creation mode */ chmod: number, /** mtime, seconds */ time: number }
}

export interface OpResult {
  id: number
  /** Bytes of the op's buffers, now free. */
  bytes: number
  closed: boolean
  /**
   * The file's first failure: on the op that met it and again on the file's close.
   * `digest` (hex): a block whose bytes do not match it.
   */
  error?: { code: string | undefined, message: string, digest?: string }
}

/** Ops sent together (one message costs more than a small file's writes), or the end. */
export type ToWriter = FileOp[] | 'shutdown'

export interface FileWriterDeps {
  fs: Pick<typeof fs, 'openSync' | 'writevSync' | 'ftruncateSync' | 'fchmodSync' | 'futimesSync' | 'closeSync'>
  hash: typeof hash
}

/** The handler; `closeAll` closes the files left open by a restore that stopped half-way. */
export function fileWriter (deps: FileWriterDeps): { handle: (op: FileOp) => OpResult, closeAll: () => void } {
  const { fs, hash } = deps
  const ZERO = new Uint8Array(64 * 1024)
  const files = new Map<number, { fd: number, holeAtEnd: boolean, error?: OpResult['error'] }>()

  function isZero (bytes: Uint8Array): boolean {
    for (let off = 0; off < bytes.length; off += ZERO.length) {
      const n = Math.min(ZERO.length, bytes.length - off)
      if (Buffer.compare(bytes.subarray(off, off + n), ZERO.subarray(0, n)) !== 0) return false
    }
    return true
  }

  function sameDigest (digests: Uint8Array, i: number, bytes: Uint8Array): boolean {
    const d = hash('sha256', bytes, 'buffer')
    return Buffer.compare(d, digests.subarray(i * 32, i * 32 + 32)) === 0
  }

  function write (fd: number, w: BlocksToWrite): { holeAtEnd: boolean, bad?: string } {
    const n = w.positions.length
    const views: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const view = new Uint8Array(w.buffers[w.where[i * 3]], w.where[i * 3 + 1], w.where[i * 3 + 2])
      if (w.digests !== undefined && !sameDigest(w.digests, i, view)) return { holeAtEnd: false, bad: Buffer.from(w.digests.subarray(i * 32, i * 32 + 32)).toString('hex') }
      views.push(view)
    }
    let holeAtEnd = false
    let run: Uint8Array[] = []
    let runAt = 0
    let runEnd = 0
    for (let i = 0; i < n; i++) {
      const view = views[i]
      holeAtEnd = isZero(view)
      const at = w.positions[i]
      if (run.length > 0 && (holeAtEnd || at !== runEnd)) { fs.writevSync(fd, run, runAt); run = [] }
      if (holeAtEnd) continue
      if (run.length === 0) runAt = at
      run.push(view)
      runEnd = at + view.length
    }
    if (run.length > 0) fs.writevSync(fd, run, runAt)
    return { holeAtEnd }
  }

  function fail (err: unknown): OpResult['error'] {
    return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message }
  }

  function handle (op: FileOp): OpResult {
    let bytes = 0
    if (op.write !== undefined) for (const b of op.write.buffers) bytes += b.byteLength
    let file = files.get(op.id)
    if (op.open !== undefined) {
      try {
        file = { fd: fs.openSync(op.open.path, 'wx', op.open.mode), holeAtEnd: false }
      } catch (err) {
        file = { fd: -1, holeAtEnd: false, error: fail(err) }
      }
      files.set(op.id, file)
    }
    if (file === undefined) return { id: op.id, bytes, closed: op.close !== undefined, error: { code: undefined, message: `no open file ${op.id}` } }
    if (file.error === undefined && op.write !== undefined && op.write.positions.length > 0) {
      try {
        const r = write(file.fd, op.write)
        if (r.bad !== undefined) file.error = { code: 'ERR_HASH_MISMATCH', message: 'block does not match its CID', digest: r.bad }
        file.holeAtEnd = r.holeAtEnd
      } catch (err) {
        file.error = fail(err)
      }
    }
    if (op.close === undefined) return { id: op.id, bytes, closed: false, error: file.error }
    files.delete(op.id)
    try {
      if (file.error === undefined) {
        if (file.holeAtEnd) fs.ftruncateSync(file.fd, op.close.size)
        if (op.close.chmod >= 0) fs.fchmodSync(file.fd, op.close.chmod)
        fs.futimesSync(file.fd, op.close.time, op.close.time)
      }
    } catch (err) {
      file.error = fail(err)
    } finally {
      if (file.fd >= 0) {
        try { fs.closeSync(file.fd) } catch (err) { file.error ??= fail(err) }
      }
    }
    return { id: op.id, bytes, closed: true, error: file.error }
  }

  function closeAll (): void {
    for (const file of files.values()) if (file.fd >= 0) try { fs.closeSync(file.fd) } catch {}
    files.clear()
  }

  return { handle, closeAll }
}

/**
 * The worker thread: ops in order, their results sent back together once the messages
 * waiting have been handled; a shutdown closes what is left open.
 */
export function writeWorkerMain (deps: FileWriterDeps & { port: MessagePort, fileWriter: typeof fileWriter }): void {
  const writer = deps.fileWriter(deps)
  let results: OpResult[] = []
  const flush = (): void => {
    const r = results
    results = []
    deps.port.postMessage(r)
  }
  deps.port.on('message', (msg: ToWriter) => {
    if (results.length === 0) setImmediate(flush)
    if (msg === 'shutdown') {
      writer.closeAll()
      results.push({ id: -1, bytes: 0, closed: true })
    } else {
      for (const op of msg) results.push(writer.handle(op))
      // free the written blocks now: this thread allocates too little for its GC to come
      // round to them soon (transfer to an empty buffer drops the memory at once)
      for (const op of msg) for (const b of op.write?.buffers ?? []) if (!b.detached) b.transfer(0)
    }
  })
}
