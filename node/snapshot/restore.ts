/**
 * Restore a manifest into a new folder or image file with the exact bytes, modes and
 * mtimes it recorded. Every chunk is verified by the store as it is read, so a corrupt or
 * missing chunk stops the restore with an error rather than writing wrong bytes. Work
 * happens in a temporary sibling of the destination which is renamed into place only when
 * complete: a failed or killed restore never leaves a half-written destination.
 * All-zero chunks are skipped (holes), so sparse files stay sparse.
 */
import { chmod, link, lutimes, mkdir, open, readdir, rename, rm, stat, symlink, utimes } from 'node:fs/promises'
import { closeSync, fchmodSync, ftruncateSync, futimesSync, openSync, writevSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from '../../protocol/cid.ts'
import { RokError, ProtocolErrorCode } from '../../protocol/errors.ts'
import {
  compareNames, decodeChunkRef, decodeEntry, decodeRoot, type ChunkRef, type Entry, type ManifestRoot
} from '../../protocol/manifest.ts'
import { SnapshotErrorCode } from './errors.ts'
import { walkList } from './list-tree.ts'
import { blocksInOrder, readBlocks, type BlockReader } from './prefetch.ts'
import { InOrder } from './in-order.ts'

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
}

export interface RestoreResult {
  kind: 'tree' | 'image'
  bytes: number
  files: number
  dirs: number
  dest: string
}

const MAX_DEPTH = 1024
/** Files written at once. */
const FILE_CONCURRENCY = 16

export async function restoreManifest (root: CID, dest: string, options: RestoreOptions): Promise<RestoreResult> {
  const manifest = decodeRoot(await options.store.get(root, { signal: options.signal }))
  await checkDestination(dest, manifest, options.force === true)
  await mkdir(dirname(dest), { recursive: true })
  const temp = join(dirname(dest), `.${basename(dest)}.rok-restore-${randomBytes(4).toString('hex')}`)
  try {
    const restorer = new Restorer(options, manifest)
    if (manifest.kind === 'image') await restorer.image(temp)
    else await restorer.tree(temp)
    if (restorer.bytes !== manifest.size) {
      throw new RokError(SnapshotErrorCode.RESTORE_MISMATCH, `restored ${restorer.bytes} bytes but the manifest says ${manifest.size}`)
    }
    await swapIntoPlace(temp, dest)
    return { kind: manifest.kind, bytes: restorer.bytes, files: restorer.files, dirs: restorer.dirs, dest }
  } catch (err) {
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

  constructor (options: RestoreOptions, manifest: ManifestRoot) {
    this.options = options
    this.manifest = manifest
    const signal = options.signal
    this.get = async (cid) => await options.store.get(cid, { signal })
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
          await this.writing.drain() // its target may be a file being written
          if (!this.restoredFiles.has(entry.target!)) {
            throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: hard link '${relPath}' points at '${entry.target}', which is not a file restored before it`)
          }
          const root = path.slice(0, path.length - relPath.length)
          await link(join(root, entry.target!), path)
        }
      }
    }
    return { finished: this.finish(Promise.all(parts).then(() => {})) }
  }

  /** Track a folder's completion, so a failed restore can wait for it before cleaning up. */
  private finish (done: Promise<void>): Promise<void> {
    done.catch(() => {}) // raised through the parent folder's completion, or by tree()
    this.finishing.add(done)
    void done.finally(() => this.finishing.delete(done)).catch(() => {})
    return done
  }

  private async file (abs: string, rel: string, entry: Entry): Promise<void> {
    if (entry.data !== undefined) await this.writeSmallFile(abs, entry.data, entry.size, rel, entry.mode, toTime(entry.mtime))
    else await this.writeFile(abs, walkList(this.get, entry.dataTree!, decodeChunkRef, { signal: this.options.signal }), entry.size, rel, entry.mode, toTime(entry.mtime))
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
   * A file whose chunk refs sit in its entry (at most INLINE_CHUNK_REFS chunks): its
   * blocks are read in one call, then it is written by blocking calls. Four trips through
   * libuv's thread pool, and the async iterators of the streamed path, cost more per small
   * file than the system calls themselves.
   */
  private async writeSmallFile (abs: string, refs: ChunkRef[], size: number, label: string, mode: number, time: number): Promise<void> {
    const blocks = refs.length === 0 ? [] : await readBlocks(this.options.store, refs.map(r => r[0]), this.options.signal)
    const runs: Array<[Uint8Array[], number]> = []
    let run: [Uint8Array[], number] | undefined
    let position = 0
    for (let i = 0; i < refs.length; i++) {
      const bytes = checkedLength(refs[i], blocks[i], label)
      if (isZero(bytes)) run = undefined // a hole
      else if (run === undefined) runs.push(run = [[bytes], position])
      else run[0].push(bytes)
      position += bytes.length
    }
    checkSize(label, size, position)
    this.progressed(position, label)
    const withMode = this.createsWithMode(mode)
    const fd = openSync(abs, 'wx', withMode ? mode : 0o600)
    try {
      for (const [buffers, at] of runs) writevSync(fd, buffers, at)
      if (refs.length > 0 && run === undefined) ftruncateSync(fd, size) // ends in a hole
      if (!withMode) fchmodSync(fd, mode)
      futimesSync(fd, time, time)
    } finally {
      closeSync(fd)
    }
  }

  /** Write a file's chunks as they stream in, then its mode and mtime through the same handle. */
  private async writeFile (abs: string, chunks: AsyncIterable<ChunkRef>, size: number, label: string, mode: number, time: number): Promise<void> {
    // created with its mode when the umask leaves it whole (the restore folder is private
    // until it is renamed into place), saving a chmod per file
    const withMode = this.createsWithMode(mode)
    const fd = await open(abs, 'wx', withMode ? mode : 0o600)
    try {
      let position = 0
      let pending: Uint8Array[] = []
      let pendingBytes = 0
      let pendingAt = 0
      let holeAtEnd = false
      const drain = async (): Promise<void> => {
        if (pendingBytes === 0) return
        await fd.writev(pending, pendingAt)
        pending = []
        pendingBytes = 0
      }
      for await (const [ref, block] of blocksInOrder(chunks, this.options.store, this.options.signal)) {
        const bytes = checkedLength(ref, block, label)
        holeAtEnd = isZero(bytes)
        if (holeAtEnd) {
          await drain()
        } else {
          if (pendingBytes === 0) pendingAt = position
          pending.push(bytes)
          pendingBytes += bytes.length
          if (pendingBytes >= 4 * 1024 * 1024) await drain()
        }
        position += bytes.length
        this.progressed(bytes.length, label)
      }
      await drain()
      checkSize(label, size, position)
      // Only a trailing hole (zero chunks skipped at the end) needs the size set.
      if (holeAtEnd) await fd.truncate(size)
      if (!withMode) await fd.chmod(mode)
      await fd.utimes(time, time)
    } finally {
      await fd.close()
    }
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

const ZERO = new Uint8Array(64 * 1024)

function isZero (bytes: Uint8Array): boolean {
  for (let off = 0; off < bytes.length; off += ZERO.length) {
    const n = Math.min(ZERO.length, bytes.length - off)
    if (Buffer.compare(bytes.subarray(off, off + n), ZERO.subarray(0, n)) !== 0) return false
  }
  return true
}
