/**
 * Restore a manifest into a new folder or image file with the exact bytes, modes and
 * mtimes it recorded. Every chunk is verified by the store as it is read, so a corrupt or
 * missing chunk stops the restore with an error rather than writing wrong bytes. Work
 * happens in a temporary sibling of the destination which is renamed into place only when
 * complete: a failed or killed restore never leaves a half-written destination.
 * All-zero chunks are skipped (holes), so sparse files stay sparse.
 */
import { chmod, link, lutimes, mkdir, open, readdir, rename, rm, stat, symlink, utimes } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { chunkCidFromDigest, type CID } from '../../protocol/cid.ts'
import { RokError, ProtocolErrorCode } from '../../protocol/errors.ts'
import {
  compareNames, decodeChunkRef, decodeEntry, decodeRoot, type ChunkRef, type Entry, type ManifestRoot
} from '../../protocol/manifest.ts'
import { SnapshotErrorCode } from './errors.ts'
import { walkList } from './list-tree.ts'
import { batchesInOrder, readBlocks, type BlockReader } from './prefetch.ts'
import { InOrder } from './in-order.ts'
import { inPlaceWriter, workerWriter, type FileWriter } from './worker-writer.ts'
import type { BlocksToWrite, FileOp, OpResult } from './write-worker.ts'

export interface RestoreProgress {
  bytes: number
  total: number
  files: number
  path?: string
}

export interface RestoreOptions {
  store: BlockReader
  /** Replace an existing non-empty destination. */
  force?: boolean
  signal?: AbortSignal
  onProgress?: (progress: RestoreProgress) => void
  /**
   * Verify and write files on a worker thread, so that this thread only reads the store
   * and walks the manifest: 'auto' once a version holds WRITER_MIN_BYTES. @default 'auto'
   */
  writeWorker?: 'auto' | 'always' | 'never'
}

export interface RestoreResult {
  kind: 'tree' | 'image'
  bytes: number
  files: number
  dirs: number
  dest: string
}

const MAX_DEPTH = 1024
/** Small files read and handed to the writer together: at most this many, or this many bytes. */
const GROUP_FILES = 64
const GROUP_BYTES = 1024 * 1024

interface SmallFile { abs: string, rel: string, entry: Entry }
/** Files written at once. */
const FILE_CONCURRENCY = 16
/** Below this many bytes, starting the writer thread costs more than it saves. */
export const WRITER_MIN_BYTES = 32 * 1024 * 1024

export async function restoreManifest (root: CID, dest: string, options: RestoreOptions): Promise<RestoreResult> {
  const manifest = decodeRoot(await options.store.get(root, { signal: options.signal }))
  await checkDestination(dest, manifest, options.force === true)
  await mkdir(dirname(dest), { recursive: true })
  const temp = join(dirname(dest), `.${basename(dest)}.rok-restore-${randomBytes(4).toString('hex')}`)
  const mode = options.writeWorker ?? 'auto'
  const threaded = mode === 'always' || (mode === 'auto' && manifest.size >= WRITER_MIN_BYTES)
  const writer = threaded ? workerWriter() : inPlaceWriter()
  let writerOpen = true
  const closeWriter = async (): Promise<void> => {
    if (writerOpen) { writerOpen = false; await writer.close() }
  }
  try {
    const restorer = new Restorer(options, manifest, writer, threaded)
    if (manifest.kind === 'image') await restorer.image(temp)
    else await restorer.tree(temp)
    await closeWriter()
    if (restorer.bytes !== manifest.size) {
      throw new RokError(SnapshotErrorCode.RESTORE_MISMATCH, `restored ${restorer.bytes} bytes but the manifest says ${manifest.size}`)
    }
    await swapIntoPlace(temp, dest)
    return { kind: manifest.kind, bytes: restorer.bytes, files: restorer.files, dirs: restorer.dirs, dest }
  } catch (err) {
    // nothing may still write inside the folder that is about to be removed
    await closeWriter().catch(() => {})
    await makeRemovable(temp)
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}

async function checkDestination (dest: string, manifest: ManifestRoot, force: boolean): Promise<void> {
  let st
  try {
    st = await stat(dest)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (force) return
  if (manifest.kind === 'tree' && st.isDirectory() && (await readdir(dest)).length === 0) return
  throw new RokError(SnapshotErrorCode.DEST_NOT_EMPTY, `${dest} already exists${st.isDirectory() ? ' and is not empty' : ''}: choose a new destination or pass --force to replace it`, { details: { dest } })
}

async function swapIntoPlace (temp: string, dest: string): Promise<void> {
  let old: string | undefined
  try {
    await stat(dest)
    old = `${temp}.old`
    await rename(dest, old)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await rename(temp, dest)
  if (old !== undefined) {
    await makeRemovable(old)
    await rm(old, { recursive: true, force: true })
  }
}

/** Read-only folders in a restored tree would stop rm; give the owner write access first. */
async function makeRemovable (path: string): Promise<void> {
  try {
    const st = await stat(path)
    if (!st.isDirectory()) return
    await chmod(path, 0o700)
    for (const name of await readdir(path)) {
      const p = join(path, name)
      const s = await stat(p).catch(() => undefined)
      if (s?.isDirectory() === true) await makeRemovable(p)
    }
  } catch {}
}

function toTime ([s, ns]: [number, number]): number {
  return s + ns / 1e9
}

class Restorer {
  bytes = 0
  files = 0
  dirs = 0
  private readonly options: RestoreOptions
  private readonly manifest: ManifestRoot
  private readonly get: (cid: CID) => Promise<Uint8Array>
  private readonly restoredFiles = new Set<string>()
  /** Files being written, oldest first (see folder()). */
  private readonly writing = new InOrder<void>(FILE_CONCURRENCY, async () => {})
  /** Folders whose files are not all written yet. */
  private readonly finishing = new Set<Promise<void>>()
  /** The process's umask, read once (files whose mode it would change are chmod-ed). */
  private readonly umask = readUmask()
  private readonly writer: FileWriter
  /** Chunks' blocks as the writer takes them: see read(). */
  private readonly read: (cids: CID[]) => Promise<Uint8Array[]>
  /** Whether read() hands over unverified blocks in memory of their own, for the writer thread to verify. */
  private readonly unverified: boolean
  /** Whether the blocks must be copied before they are transferred (the store may keep them). */
  private readonly copy: boolean
  private nextFile = 0

  constructor (options: RestoreOptions, manifest: ManifestRoot, writer: FileWriter, threaded: boolean) {
    this.options = options
    this.manifest = manifest
    this.writer = writer
    const { signal, store } = options
    this.get = async (cid) => await store.get(cid, { signal })
    this.unverified = threaded && store.getManyUnverified !== undefined
    this.copy = threaded && !this.unverified
    this.read = this.unverified
      ? async cids => await store.getManyUnverified!(cids, { signal })
      : async cids => await readBlocks(store, cids, signal)
  }

  async image (path: string): Promise<void> {
    const chunks = walkList(this.get, this.manifest.list, decodeChunkRef, { signal: this.options.signal })
    await this.writeFile(path, chunks, this.manifest.size, 'image', this.manifest.mode, toTime(this.manifest.mtime))
    this.files = 1
  }

  async tree (path: string): Promise<void> {
    await mkdir(path, { mode: 0o700 })
    try {
      const { finished } = await this.folder(path, '', this.manifest.list, 0)
      await this.writing.drain()
      await finished
    } finally {
      // nothing may still write (or chmod) inside a folder that is about to be removed
      await this.writing.settle()
      await Promise.allSettled(this.finishing)
    }
    await chmod(path, this.manifest.mode)
    await utimes(path, toTime(this.manifest.mtime), toTime(this.manifest.mtime))
  }

  /**
   * Walk one folder, creating its entries; returns once they are all under way, with
   * `finished`, a promise of the folder being finished: every file in it written and every subfolder
   * finished, then its own mode and mtime set (last, as they may forbid writing in it and
   * creating an entry moves its mtime). Files are written up to FILE_CONCURRENCY at once
   * across folders: a tree of small files is bound by per-file system calls, not bytes,
   * and the next folder's files start while the last ones of this folder are written.
   */
  private async folder (abs: string, rel: string, list: CID, depth: number): Promise<{ finished: Promise<void> }> {
    if (depth > MAX_DEPTH) throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: folders nested deeper than ${MAX_DEPTH}`)
    this.dirs++
    let previous: string | undefined
    const parts: Array<Promise<void>> = []
    // small files go to the store and the writer a group at a time (see writeSmallFiles)
    let group: SmallFile[] = []
    let groupBytes = 0
    const flushGroup = async (): Promise<void> => {
      if (group.length === 0) return
      const written = this.writeSmallFiles(group)
      group = []
      groupBytes = 0
      parts.push(written)
      await this.writing.push(written)
    }
    for await (const entry of walkList(this.get, list, decodeEntry, { signal: this.options.signal })) {
      // Sorted, unique names are what makes it impossible for one entry to write through another.
      if (previous !== undefined && compareNames(previous, entry.name) >= 0) {
        throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: entries of '${rel || '/'}' are not sorted and unique at '${entry.name}'`)
      }
      previous = entry.name
      const path = join(abs, entry.name)
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`
      const time = toTime(entry.mtime)
      switch (entry.kind) {
        case 'file': {
          if (entry.data !== undefined) {
            group.push({ abs: path, rel: relPath, entry })
            groupBytes += entry.size
            if (group.length >= GROUP_FILES || groupBytes >= GROUP_BYTES) await flushGroup()
            break
          }
          const written = this.file(path, relPath, entry)
          parts.push(written)
          await this.writing.push(written)
          break
        }
        case 'dir': {
          await mkdir(path, { mode: 0o700 })
          const { finished } = await this.folder(path, relPath, entry.dir!, depth + 1)
          parts.push(this.finish(finished.then(async () => {
            await chmod(path, entry.mode)
            await utimes(path, time, time)
          })))
          break
        }
        case 'symlink':
          await symlink(entry.target!, path)
          await lutimes(path, time, time)
          break
        case 'hardlink': {
          await flushGroup()
          await this.writing.drain() // its target may be a file being written
          if (!this.restoredFiles.has(entry.target!)) {
            throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: hard link '${relPath}' points at '${entry.target}', which is not a file restored before it`)
          }
          const root = path.slice(0, path.length - relPath.length)
          await link(join(root, entry.target!), path)
        }
      }
    }
    await flushGroup()
    return { finished: this.finish(Promise.all(parts).then(() => {})) }
  }

  /** Track a folder's completion, so a failed restore can wait for it before cleaning up. */
  private finish (done: Promise<void>): Promise<void> {
    done.catch(() => {}) // raised through the parent folder's completion, or by tree()
    this.finishing.add(done)
    void done.finally(() => this.finishing.delete(done)).catch(() => {})
    return done
  }

  /** A file with its own chunk list tree, streamed. */
  private async file (abs: string, rel: string, entry: Entry): Promise<void> {
    await this.writeFile(abs, walkList(this.get, entry.dataTree!, decodeChunkRef, { signal: this.options.signal }), entry.size, rel, entry.mode, toTime(entry.mtime))
    this.files++
    this.restoredFiles.add(rel)
  }

  /** Count restored bytes and report progress. */
  private progressed (bytes: number, label: string): void {
    this.bytes += bytes
    this.options.onProgress?.({ bytes: this.bytes, total: this.manifest.size, files: this.files, path: label })
  }

  /** Whether a file can be created with its mode (see writeFile). */
  private createsWithMode (mode: number): boolean {
    return (mode & ~0o777) === 0 && (mode & this.umask) === 0
  }

  /**
   * Files whose chunk refs sit in their entries (at most INLINE_CHUNK_REFS chunks each),
   * a group at a time: their blocks are read in one store call (they sit next to each
   * other in a pack when they were snapshotted together: one read for the group), then
   * each is created, written and closed by one op of the writer, by blocking calls. Per
   * small file, trips through libuv's thread pool and async iterators would cost more
   * than the system calls themselves.
   */
  private async writeSmallFiles (files: SmallFile[]): Promise<void> {
    const cids: CID[] = []
    for (const f of files) for (const r of f.entry.data!) cids.push(r[0])
    const blocks = cids.length === 0 ? [] : await this.read(cids)
    const ops: FileOp[] = []
    let k = 0
    let bytes = 0
    for (const { abs, rel, entry } of files) {
      const refs = entry.data!
      const own = blocks.slice(k, k + refs.length)
      k += refs.length
      const positions: number[] = []
      let position = 0
      for (let i = 0; i < refs.length; i++) {
        positions.push(position)
        position += checkedLength(refs[i], own[i], rel).length
      }
      checkSize(rel, entry.size, position)
      bytes += position
      ops.push({
        id: this.nextFile++,
        open: this.opening(abs, entry.mode),
        write: refs.length === 0 ? undefined : this.toWrite(refs, own, positions),
        close: this.closing(entry.size, entry.mode, toTime(entry.mtime))
      })
    }
    this.progressed(bytes, files[files.length - 1].rel)
    await this.writer.room()
    // sent in one go: files whose blocks share memory travel in one message
    const results = await Promise.all(ops.map(async op => await this.writer.send(op)))
    for (let i = 0; i < files.length; i++) {
      this.check(results[i], files[i].rel)
      this.files++
      this.restoredFiles.add(files[i].rel)
    }
  }

  /** Write a file's chunks as they stream in, then its size, mode and mtime. */
  private async writeFile (abs: string, chunks: AsyncIterable<ChunkRef>, size: number, label: string, mode: number, time: number): Promise<void> {
    const id = this.nextFile++
    await this.writer.room()
    void this.writer.send({ id, open: this.opening(abs, mode) }) // a failure comes back with the close
    let position = 0
    let failed: OpResult | undefined
    let threw = true
    try {
      for await (const { refs, blocks } of batchesInOrder(chunks, this.read)) {
        const positions: number[] = []
        for (let i = 0; i < refs.length; i++) {
          positions.push(position)
          position += checkedLength(refs[i], blocks[i], label).length
        }
        this.progressed(position - positions[0], label)
        await this.writer.room()
        void this.writer.send({ id, write: this.toWrite(refs, blocks, positions) }).then(r => { if (r.error !== undefined) failed ??= r }, () => {})
        if (failed !== undefined) break // the writer met an error: its close reports it
      }
      if (failed === undefined) checkSize(label, size, position)
      threw = false
    } finally {
      // closed on every path, so that no file is left open in the writer
      const closed = await this.writer.send({ id, close: this.closing(size, mode, time) })
      if (!threw) this.check(closed, label)
    }
  }

  /** Created with its mode when the umask leaves it whole (the restore folder is private until it is renamed into place), saving a chmod per file. */
  private opening (abs: string, mode: number): { path: string, mode: number } {
    return { path: abs, mode: this.createsWithMode(mode) ? mode : 0o600 }
  }

  private closing (size: number, mode: number, time: number): { size: number, chmod: number, time: number } {
    return { size, chmod: this.createsWithMode(mode) ? -1 : mode, time }
  }

  /** The blocks as the writer takes them: their memory transferred to it (or copied first when the store may keep it), each with its digest when unverified. */
  private toWrite (refs: ChunkRef[], blocks: Uint8Array[], positions: number[]): BlocksToWrite {
    const n = blocks.length
    const where = new Uint32Array(n * 3)
    const buffers: ArrayBuffer[] = []
    if (this.copy) {
      const total = blocks.reduce((sum, b) => sum + b.length, 0)
      const into = new Uint8Array(total)
      let at = 0
      for (let i = 0; i < n; i++) {
        into.set(blocks[i], at)
        where.set([0, at, blocks[i].length], i * 3)
        at += blocks[i].length
      }
      buffers.push(into.buffer)
    } else {
      const index = new Map<ArrayBuffer, number>()
      for (let i = 0; i < n; i++) {
        const b = blocks[i]
        const buffer = b.buffer as ArrayBuffer
        let k = index.get(buffer)
        if (k === undefined) { k = buffers.length; index.set(buffer, k); buffers.push(buffer) }
        where.set([k, b.byteOffset, b.length], i * 3)
      }
    }
    let digests: Uint8Array | undefined
    if (this.unverified) {
      digests = new Uint8Array(n * 32)
      for (let i = 0; i < n; i++) digests.set(refs[i][0].multihash.digest, i * 32)
    }
    return { buffers, where, positions: Float64Array.from(positions), digests }
  }

  /** A writer failure as the error a caller branches on: a corrupt chunk is ERR_HASH_MISMATCH, naming it. */
  private check (result: OpResult, label: string): void {
    const error = result.error
    if (error === undefined) return
    if (error.digest !== undefined) {
      const cid = chunkCidFromDigest(Buffer.from(error.digest, 'hex'))
      throw new RokError(ProtocolErrorCode.HASH_MISMATCH, `block ${cid.toString()} of '${label}' is corrupt in the store; run 'rok verify'`, { details: { cid: cid.toString(), path: label } })
    }
    // as the system call's own error (the writer thread's cannot cross as an object)
    throw Object.assign(new Error(error.message), { code: error.code })
  }
}

/** Read without setting it: a set-and-restore would race with files being created meanwhile. */
function readUmask (): number {
  return process.umask()
}

function checkedLength ([cid, length]: ChunkRef, bytes: Uint8Array, label: string): Uint8Array {
  if (bytes.length !== length) {
    throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: chunk ${cid.toString()} of '${label}' is ${bytes.length} bytes, not ${length}`)
  }
  return bytes
}

function checkSize (label: string, size: number, position: number): void {
  if (position !== size) {
    throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: '${label}' should be ${size} bytes but its chunks add up to ${position}`)
  }
}
