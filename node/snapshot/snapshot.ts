/**
 * Snapshot a volume: a folder tree or a raw block image (regular file or block device).
 * Returns the manifest root's CID once every chunk and manifest node has been handed to
 * the store; the caller flushes the store before recording a version, so a version never
 * points at data that is not durable. Any error aborts the whole snapshot: no partial
 * version is ever recorded.
 */
import { open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises'
import { lstatSync, type BigIntStats, type Stats } from 'node:fs'
import { join } from 'node:path'
import type { CID } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { compareNames, decodeEntry, decodeRoot, encodeRoot, isSafeName, MANIFEST_FORMAT, sameMtime, type ChunkRef, type Entry, type EncodedNode } from '../../protocol/manifest.ts'
import type { ChunkerParams } from '../chunker/index.ts'
import type { BlockStore } from '../store/types.ts'
import { SnapshotErrorCode } from './errors.ts'
import { emptyStats, ingest, ingestBlocks, type IngestStats } from './ingest.ts'
import { forEachInList, ListTreeBuilder } from './list-tree.ts'
import { readAhead, ReadBuffers } from './read-file.ts'
import { CHUNK_LIST, ENTRY_LIST, INLINE_CHUNK_REFS } from './shapes.ts'
import { WorkerChunker, WorkerReadError } from './worker-chunker.ts'
import { inodeOf, type FolderInodes } from './inodes.ts'
import { InOrder } from './in-order.ts'
import { DEFAULT_CHUNKER_PARAMS } from '../chunker/index.ts'

export interface SnapshotProgress extends IngestStats {
  files: number
  /** Total logical bytes, when known up front (images). */
  total?: number
  path?: string
}

/**
 * The bucket's previous version of the same folder tree. A file whose size and mtime match
 * its entry there, and whose ctime is older than that snapshot's start, cannot have
 * changed since (any write or utimes moves ctime, which users cannot set), so its chunk
 * list is reused without reading it — restic's parent-snapshot rule, made safe by ctime.
 */
export interface ParentSnapshot {
  root: CID
  /** When the parent snapshot started, in ms since the epoch. */
  startedAt: number
  store: Pick<BlockStore, 'get'>
  /**
   * The inodes its files had (see inodes.ts): a file is reused only if it is the same
   * inode. Without them nothing is reused: every file is read.
   */
  inodes?: (rel: string) => Promise<FolderInodes | undefined>
}

/** Filesystems keep ctime at coarse granularity on some mounts; stay clear of the edge. */
const CTIME_MARGIN_NS = 1_000_000_000n
/** The same margin for a number lstat, plus 1 µs for what a double of milliseconds rounds away. */
const CTIME_MARGIN_MS = 1000.001

export interface SnapshotOptions {
  store: Pick<BlockStore, 'put' | 'putMany'>
  parent?: ParentSnapshot
  params?: ChunkerParams
  signal?: AbortSignal
  onProgress?: (progress: SnapshotProgress) => void
  /** Which paths (relative, '/'-separated) a tree snapshot takes; an excluded folder is not entered. @default all */
  filter?: (rel: string, isDir: boolean) => boolean
  /**
   * Read, cut and hash on a worker thread, so that this thread only stores and builds
   * the manifest: 'auto' once a snapshot has WORKER_MIN_BYTES to read. @default 'auto'
   */
  chunkWorker?: 'auto' | 'always' | 'never'
  /**
   * Reuse a file from the parent by size, mtime and ctime whatever its inode, as restic's
   * --ignore-inode: for filesystems whose inode numbers are not stable, or a volume copied
   * with its times. Unsafe when another folder with the same names, sizes and mtimes is
   * snapshotted into the bucket. @default false
   */
  ignoreInode?: boolean
  /** Told the inodes of each folder's regular files, for the next snapshot's reuse check. */
  recordInodes?: (rel: string, inodes: FolderInodes) => Promise<void>
}

/** Below this many bytes to read, starting a worker costs more than it saves. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024

export interface SnapshotResult {
  root: CID
  /** Bytes of files reused from the parent snapshot without being read. */
  reusedBytes: number
  kind: 'tree' | 'image'
  /** Logical bytes of the volume. */
  size: number
  files: number
  dirs: number
  stats: IngestStats
  /** Manifest nodes written (new or not). */
  manifestNodes: number
}

export async function snapshotVolume (path: string, options: SnapshotOptions): Promise<SnapshotResult> {
  let st: BigIntStats
  try {
    st = await stat(path, { bigint: true })
  } catch (err) {
    throw fsError(err, path)
  }
  if (st.isDirectory()) return await new TreeSnapshot(path, options).run(st)
  if (st.isFile() || st.isBlockDevice()) return await snapshotImage(path, st, options)
  throw new RokError(SnapshotErrorCode.NOT_A_VOLUME, `${path} is neither a folder nor an image file or block device`, { details: { path } })
}

function mtimeOf (st: BigIntStats): [number, number] {
  let s = st.mtimeNs / 1_000_000_000n
  let ns = st.mtimeNs % 1_000_000_000n
  if (ns < 0n) { ns += 1_000_000_000n; s -= 1n }
  return [Number(s), Number(ns)]
}

function modeOf (st: BigIntStats): number {
  return Number(st.mode) & 0o7777
}

function fsError (err: unknown, path: string): RokError {
  const code = (err as NodeJS.ErrnoException).code
  if (err instanceof RokError) return err
  if (code === 'ENOENT') return new RokError(SnapshotErrorCode.NOT_A_VOLUME, `${path} does not exist`, { cause: err, details: { path } })
  if (code === 'EACCES' || code === 'EPERM') return new RokError(SnapshotErrorCode.UNREADABLE, `cannot read ${path}: permission denied`, { cause: err, details: { path } })
  return new RokError(SnapshotErrorCode.UNREADABLE, `cannot read ${path}: ${(err as Error).message}`, { cause: err, details: { path } })
}

function vanished (err: unknown, path: string): RokError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new RokError(SnapshotErrorCode.CHANGED_DURING_SNAPSHOT, `${path} vanished while it was being snapshotted; nothing was recorded, run the snapshot again`, { cause: err, details: { path } })
  }
  return fsError(err, path)
}

async function putNode (store: Pick<BlockStore, 'put'>, node: EncodedNode): Promise<void> {
  await store.put(node.cid, node.bytes)
}

/** Files up to this size are read whole, a batch at a time, ahead of chunking: small-file trees are bound by I/O latency, not bandwidth. */
const PRELOAD_MAX = 1024 * 1024

/** Open a file the walk saw; one gone meanwhile stops the snapshot as changed, naming it. */
async function openForReading (path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (err) {
    throw vanished(err, path)
  }
}

interface Preloaded { bytes: Uint8Array, after: BigIntStats }

async function preloadFile (path: string, st: BigIntStats): Promise<Preloaded> {
  const fd = await openForReading(path)
  try {
    const bytes = Buffer.allocUnsafe(Number(st.size))
    let off = 0
    while (off < bytes.length) {
      const { bytesRead } = await fd.read(bytes, off, bytes.length - off, off)
      if (bytesRead === 0) break
      off += bytesRead
    }
    return { bytes: bytes.subarray(0, off), after: await fd.stat({ bigint: true }) }
  } catch (err) {
    throw fsError(err, path)
  } finally {
    await fd.close()
  }
}

function checkUnchanged (path: string, st: BigIntStats, after: { size: bigint, mtimeNs: bigint }, read: number): void {
  if (st.isFile() && (after.size !== st.size || after.mtimeNs !== st.mtimeNs || BigInt(read) !== st.size)) {
    throw new RokError(SnapshotErrorCode.CHANGED_DURING_SNAPSHOT, `${path} changed while it was being snapshotted; nothing was recorded, run the snapshot again when it is quiet`, { details: { path } })
  }
}

/** Where a file's bytes come from: read here, already read whole, or cut by the worker. */
type FileSource =
  | { from: 'read', buffers: ReadBuffers }
  | { from: 'preloaded', preloaded: Promise<Preloaded> }
  | { from: 'worker', chunker: WorkerChunker, job: number }

/**
 * Chunk one file into `onChunk`, checking that it did not change under us: a snapshot
 * of a file being written would be a version nobody ever had.
 */
async function chunkFile (path: string, st: BigIntStats, options: SnapshotOptions, source: FileSource, stats: IngestStats, onChunk: (ref: ChunkRef) => Promise<void> | void, progress: () => void): Promise<void> {
  // this file's own count: other files are stored at the same time (stats is shared)
  let read = 0
  const ingestOptions = { store: options.store, stats, params: options.params, signal: options.signal, onChunk: (ref: ChunkRef) => { read += ref[1]; return onChunk(ref) }, onProgress: progress }
  if (source.from === 'worker') {
    let end
    try {
      end = await ingestBlocks(source.chunker.chunks(source.job, options.signal), ingestOptions)
    } catch (err) {
      throw err instanceof WorkerReadError ? vanished(err, path) : err
    }
    checkUnchanged(path, st, end, read)
    return
  }
  if (source.from === 'preloaded') {
    const { bytes, after } = await source.preloaded
    await ingest((async function * () { yield bytes })(), ingestOptions)
    checkUnchanged(path, st, after, read)
    return
  }
  const fd = await openForReading(path)
  try {
    await ingest(readAhead(fd, source.buffers, options.signal, st.isFile() ? Number(st.size) : undefined), ingestOptions)
    checkUnchanged(path, st, await fd.stat({ bigint: true }), read)
  } catch (err) {
    if (err instanceof RokError || (err as Error).name === 'AbortError') throw err
    throw fsError(err, path)
  } finally {
    await fd.close()
  }
}

async function snapshotImage (path: string, st: BigIntStats, options: SnapshotOptions): Promise<SnapshotResult> {
  const stats = emptyStats()
  let nodes = 0
  const sink = async (node: EncodedNode): Promise<void> => { nodes++; await putNode(options.store, node) }
  const list = new ListTreeBuilder(CHUNK_LIST, sink)
  const total = st.isFile() ? Number(st.size) : undefined
  const progress = (): void => options.onProgress?.({ ...stats, files: 1, total, path })
  const onChunk = async (ref: ChunkRef): Promise<void> => { await list.add(ref, ref[1]) }
  const mode = options.chunkWorker ?? 'auto'
  if (mode === 'always' || (mode === 'auto' && (st.isBlockDevice() || st.size >= BigInt(WORKER_MIN_BYTES)))) {
    const chunker = new WorkerChunker(options.params ?? DEFAULT_CHUNKER_PARAMS)
    try {
      const job = chunker.enqueue(path, st.isFile() ? Number(st.size) : -1)
      await chunkFile(path, st, options, { from: 'worker', chunker, job }, stats, onChunk, progress)
    } finally {
      await chunker.close()
    }
  } else {
    await chunkFile(path, st, options, { from: 'read', buffers: new ReadBuffers() }, stats, onChunk, progress)
  }
  const [listCid] = await list.finish()
  const root = encodeRoot({ format: MANIFEST_FORMAT, kind: 'image', size: stats.bytes, files: 1, dirs: 0, list: listCid, mode: modeOf(st), mtime: mtimeOf(st) })
  await sink(root)
  return { root: root.cid, kind: 'image', size: stats.bytes, reusedBytes: 0, files: 1, dirs: 0, stats, manifestNodes: nodes }
}

/** Files lstat-ed between turns of the event loop (~2-5 ms of blocking calls). */
const LSTAT_SLICE = 512
/** Subfolders listed ahead of the one being walked. */
const LIST_AHEAD = 4
/** Without the worker: small files read whole ahead of the one being stored. */
const PRELOAD_AHEAD = 32

interface Listing {
  names: string[]
  /** The names joined to the folder's path. */
  paths: string[]
  /** BigInt lstat, or a number lstat for a file reused from the parent (see `reused`). */
  stats: Array<BigIntStats | Stats>
  /** The entry of each file found unchanged since the parent from a number lstat (see quickUnchanged). */
  reused: Array<Entry | undefined>
  /** Which names the filter takes. */
  wanted: boolean[]
  /** The parent snapshot's entries of this folder, by name. */
  previous: Map<string, Entry>
  previousInodes: FolderInodes | undefined
}

/** Files of one folder stored at once (see InOrder). */
const FILE_CONCURRENCY = 16

function sized (entry: Entry): [Entry, number] {
  return [entry, entry.size]
}

class TreeSnapshot {
  private readonly base: string
  private readonly options: SnapshotOptions
  private readonly stats = emptyStats()
  private files = 0
  private dirs = 0
  private nodes = 0
  /** First path seen for each multiply-linked inode, so later links become hard links. */
  private readonly inodes = new Map<string, string>()
  private reusedBytes = 0
  private readonly buffers = new ReadBuffers()
  /** Started once there is enough to read (see WORKER_MIN_BYTES). */
  private chunker: WorkerChunker | undefined

  constructor (base: string, options: SnapshotOptions) {
    this.base = base
    this.options = options
  }

  async run (rootStat: BigIntStats): Promise<SnapshotResult> {
    let list: CID
    try {
      list = await this.folder(this.base, '', this.list(this.base, '', await this.parentRootList()))
    } finally {
      await this.chunker?.close()
    }
    const root = encodeRoot({ format: MANIFEST_FORMAT, kind: 'tree', size: this.stats.bytes, files: this.files, dirs: this.dirs, list, mode: modeOf(rootStat), mtime: mtimeOf(rootStat) })
    await this.sink(root)
    return { root: root.cid, kind: 'tree', size: this.stats.bytes, reusedBytes: this.reusedBytes, files: this.files, dirs: this.dirs, stats: this.stats, manifestNodes: this.nodes }
  }

  private async parentRootList (): Promise<CID | undefined> {
    const parent = this.options.parent
    if (parent === undefined) return undefined
    try {
      const root = decodeRoot(await parent.store.get(parent.root))
      return root.kind === 'tree' ? root.list : undefined
    } catch {
      return undefined // an unreadable parent only costs speed: every file is read
    }
  }

  private async parentEntries (list: CID | undefined): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>()
    const parent = this.options.parent
    if (list === undefined || parent === undefined) return entries
    try {
      await forEachInList(async cid => await parent.store.get(cid), list, decodeEntry, e => { entries.set(e.name, e) })
    } catch {
      entries.clear()
    }
    return entries
  }

  private unchangedSinceParent (st: BigIntStats, previous: Entry | undefined, inode: string | undefined): previous is Entry {
    if (previous === undefined || previous.kind !== 'file' || this.options.parent === undefined) return false
    if (this.options.ignoreInode !== true && inode !== inodeOf(st)) return false
    return previous.size === Number(st.size) && sameMtime(previous.mtime, mtimeOf(st)) &&
      st.ctimeNs + CTIME_MARGIN_NS < BigInt(this.options.parent.startedAt) * 1_000_000n
  }

  /**
   * unchangedSinceParent from a number lstat, for a regular file the parent has: its entry
   * (with the parent's mtime) when the file is unchanged, else undefined — also whenever the
   * doubles cannot answer exactly (an mtime not the parent's to the bit, a ctime within
   * 1 µs of the margin, inode numbers past 2^53), which the BigInt lstat then decides.
   */
  private quickUnchanged (name: string, st: Stats, previous: Entry, inode: string | undefined): Entry | undefined {
    const parent = this.options.parent
    if (parent === undefined || !st.isFile() || st.nlink !== 1 || previous.size !== st.size) return undefined
    // (inodes are recorded for the next snapshot from this lstat too)
    if (!Number.isSafeInteger(st.dev) || !Number.isSafeInteger(st.ino)) return undefined
    if (this.options.ignoreInode !== true && inode !== inodeOf(st)) return undefined
    // Node makes mtimeMs as seconds * 1e3 + nanoseconds / 1e6: the parent's mtime made the same way is the same double
    if (st.mtimeMs !== previous.mtime[0] * 1e3 + previous.mtime[1] / 1e6) return undefined
    if (!(st.ctimeMs + CTIME_MARGIN_MS < parent.startedAt)) return undefined
    return { name, kind: 'file', mode: st.mode & 0o7777, mtime: previous.mtime, size: previous.size, ...(previous.data !== undefined ? { data: previous.data } : { dataTree: previous.dataTree }) }
  }

  private readonly sink = async (node: EncodedNode): Promise<void> => {
    this.nodes++
    await putNode(this.options.store, node)
  }

  private progress (path: string): void {
    this.options.onProgress?.({ ...this.stats, files: this.files, path })
  }

  /**
   * What a folder holds: its names (sorted), their lstat, which the filter wants, and
   * the parent snapshot's entries and inodes for it. Listings of the next few subfolders
   * are made while this one is stored (see folder()), so a cold walk's metadata reads
   * overlap with reading and storing files. Errors surface when the listing is used.
   */
  private list (abs: string, rel: string, parentList: CID | undefined): Promise<Listing> {
    const listing = (async (): Promise<Listing> => {
      this.options.signal?.throwIfAborted()
      // (with ignoreInode, inodes decide nothing: not loaded)
      const previousInodesRead = parentList === undefined || this.options.ignoreInode === true ? undefined : this.options.parent?.inodes?.(rel)
      const previous = await this.parentEntries(parentList)
      let names: string[]
      try {
        names = await readdir(abs)
      } catch (err) {
        throw vanished(err, abs)
      }
      for (const name of names) {
        if (!isSafeName(name)) throw new RokError(SnapshotErrorCode.UNREADABLE, `${join(abs, name)}: name cannot be stored (too long or contains NUL)`, { details: { path: join(abs, name) } })
      }
      names.sort(compareNames)
      // Blocking lstat: readdir has just read the folder, and the kernel reads a folder's
      // inodes from disk in runs, so these are mostly cache hits, and one hand-off per file
      // to libuv's pool and back cost more (on 2 cores, a thread woken for each). Every
      // LSTAT_SLICE files the event loop gets a turn: a daemon snapshotting a folder of 10,000
      // files otherwise stopped serving peers and its API for 140-190 ms at a time.
      // A file the parent has is first lstat-ed with numbers (a BigInt lstat costs ~4× as
      // much, most of a tree v2's walk): if that shows it unchanged, its entry is the
      // parent's; otherwise it is lstat-ed again with BigInts and judged as any other.
      const previousInodes = await previousInodesRead
      // join() normalizes every path again; a safe name only appends to the folder's own
      const prefix = join(abs, 'x').slice(0, -1)
      const paths = names.map(name => prefix + name)
      const reused = new Array<Entry | undefined>(names.length)
      const stats = new Array<BigIntStats | Stats>(paths.length)
      for (let j = 0; j < paths.length; j++) {
        if (j > 0 && j % LSTAT_SLICE === 0) await new Promise(resolve => setImmediate(resolve))
        const p = paths[j]
        try {
          const prev = previous.get(names[j])
          if (prev?.kind === 'file') {
            const quick = lstatSync(p)
            const entry = this.quickUnchanged(names[j], quick, prev, previousInodes?.get(names[j]))
            if (entry !== undefined) { reused[j] = entry; stats[j] = quick; continue }
          }
          stats[j] = lstatSync(p, { bigint: true })
        } catch (err) { throw vanished(err, p) }
      }
      const filter = this.options.filter
      const wanted = names.map((name, j) => filter === undefined || filter(rel === '' ? name : `${rel}/${name}`, stats[j].isDirectory()))
      return { names, paths, stats, reused, wanted, previous, previousInodes }
    })()
    listing.catch(() => {}) // raised when the listing is used
    return listing
  }

  /** Snapshot one folder; returns the root CID of its entry list. */
  private async folder (abs: string, rel: string, listed: Promise<Listing>): Promise<CID> {
    const { names, paths, stats, reused, wanted, previous, previousInodes } = await listed
    const inodes: FolderInodes = new Map()
    const path = (j: number): string => paths[j]
    /** The BigInt lstat of anything not reused by quickUnchanged. */
    const big = (j: number): BigIntStats => stats[j] as BigIntStats
    const relOf = (j: number): string => rel === '' ? names[j] : `${rel}/${names[j]}`
    // regular files read here or by the worker; other links of a multiply-linked file
    // are decided in entry(), so those are read here
    for (let j = 0; j < names.length; j++) if (wanted[j] && stats[j].isFile()) inodes.set(names[j], inodeOf(stats[j]))
    const toRead = names.map((name, j) => wanted[j] && reused[j] === undefined && stats[j].isFile() && big(j).nlink === 1n && !this.unchangedSinceParent(big(j), previous.get(name), previousInodes?.get(name)))
    const chunker = this.chunkerFor(toRead.reduce((n, yes, j) => yes ? n + Number(stats[j].size) : n, 0))
    const sources: Array<FileSource | undefined> = new Array(names.length)
    // without the worker, small files are read whole a few ahead of the one being stored
    let preloadedTo = 0
    const preloadAhead = (from: number): void => {
      for (preloadedTo = Math.max(preloadedTo, from); preloadedTo < names.length && preloadedTo < from + PRELOAD_AHEAD; preloadedTo++) {
        const k = preloadedTo
        if (!toRead[k] || big(k).size > BigInt(PRELOAD_MAX)) continue
        const preloaded = preloadFile(path(k), big(k))
        preloaded.catch(() => {}) // raised when its entry is reached
        sources[k] = { from: 'preloaded', preloaded }
      }
    }
    // listings of the next subfolders, made ahead
    const subfolders = names.map((_, j) => j).filter(j => wanted[j] && stats[j].isDirectory())
    const listings = new Map<number, Promise<Listing>>()
    const listAhead = (from: number): void => {
      for (let n = from; n < subfolders.length && n < from + LIST_AHEAD; n++) {
        const j = subfolders[n]
        const prev = previous.get(names[j])
        if (!listings.has(j)) listings.set(j, this.list(path(j), relOf(j), prev?.kind === 'dir' ? prev.dir : undefined))
      }
    }
    listAhead(0)
    let nextSubfolder = 0
    const builder = new ListTreeBuilder(ENTRY_LIST, this.sink)
    const window = new InOrder<Entry>(FILE_CONCURRENCY, async entry => { await builder.add(entry, entry.size) })
    try {
      // The worker answers in the order files are queued, so queue only up to the next
      // folder: its files are queued (and consumed) while it is walked, before ours.
      let queuedTo = 0
      for (let j = 0; j < names.length; j++) {
        if (!wanted[j]) continue
        if (chunker === undefined) preloadAhead(j)
        else if (toRead[j] && j >= queuedTo) {
          let k = j
          for (; k < names.length && !(k > j && wanted[k] && stats[k].isDirectory()); k++) {
            if (toRead[k]) sources[k] = { from: 'worker', chunker, job: chunker.enqueue(path(k), Number(stats[k].size)) }
          }
          queuedTo = k
        }
        if (stats[j].isDirectory()) {
          await window.drain()
          listAhead(++nextSubfolder)
          const listing = listings.get(j)!
          listings.delete(j)
          await builder.add(...sized(await this.entry(path(j), relOf(j), names[j], big(j), previous.get(names[j]), undefined, undefined, listing)))
          continue
        }
        const done = reused[j]
        const entry = (): Promise<Entry> => done !== undefined ? Promise.resolve(this.reuse(done)) : this.entry(path(j), relOf(j), names[j], big(j), previous.get(names[j]), previousInodes?.get(names[j]), sources[j])
        // Files whose bytes come from the worker or a preload, and files reused from the
        // parent, are stored several at once (their index lookups go together); anything
        // else (a file read here through the shared buffers) waits its turn.
        const alongside = done !== undefined || sources[j] !== undefined || (stats[j].isFile() && big(j).nlink === 1n && !toRead[j])
        if (done !== undefined && window.idle) {
          // reused, nothing in flight before it: straight into the list, no promise per file
          const added = builder.add(this.reuse(done), done.size)
          if (added !== undefined) await added
        } else if (alongside) await window.push(entry())
        else { await window.drain(); await builder.add(...sized(await entry())) }
      }
      await window.drain()
    } finally {
      await window.settle()
    }
    this.dirs++
    await this.options.recordInodes?.(rel, inodes)
    return (await builder.finish())[0]
  }

  /** The worker, started once this snapshot has WORKER_MIN_BYTES to read (counting `next`). */
  private chunkerFor (next: number): WorkerChunker | undefined {
    const mode = this.options.chunkWorker ?? 'auto'
    if (this.chunker === undefined && (mode === 'always' || (mode === 'auto' && this.stats.bytes - this.reusedBytes + next >= WORKER_MIN_BYTES))) {
      this.chunker = new WorkerChunker(this.options.params ?? DEFAULT_CHUNKER_PARAMS)
    }
    return this.chunker
  }

  /** Count a file reused from the parent as entry() does. */
  private reuse (entry: Entry): Entry {
    this.files++
    this.stats.bytes += entry.size
    this.reusedBytes += entry.size
    return entry
  }

  private async entry (abs: string, rel: string, name: string, st: BigIntStats, previous: Entry | undefined, previousInode: string | undefined, source?: FileSource, listing?: Promise<Listing>): Promise<Entry> {
    const base = { name, mode: modeOf(st), mtime: mtimeOf(st) }
    if (st.isDirectory()) {
      return { ...base, kind: 'dir', size: 0, dir: await this.folder(abs, rel, listing ?? this.list(abs, rel, previous?.kind === 'dir' ? previous.dir : undefined)) }
    }
    if (st.isSymbolicLink()) {
      let target: string
      try { target = await readlink(abs) } catch (err) { throw vanished(err, abs) }
      return { ...base, kind: 'symlink', size: 0, target }
    }
    if (st.isFile()) {
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`
        const first = this.inodes.get(key)
        if (first !== undefined) return { ...base, kind: 'hardlink', size: 0, target: first }
        this.inodes.set(key, rel)
      }
      this.files++
      if (this.unchangedSinceParent(st, previous, previousInode)) {
        this.stats.bytes += previous.size
        this.reusedBytes += previous.size
        return { ...base, kind: 'file', size: previous.size, ...(previous.data !== undefined ? { data: previous.data } : { dataTree: previous.dataTree }) }
      }
      return { ...base, kind: 'file', size: Number(st.size), ...await this.fileData(abs, st, source ?? { from: 'read', buffers: this.buffers }) }
    }
    const what = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device node'
    throw new RokError(SnapshotErrorCode.UNSUPPORTED_FILE_TYPE, `${abs} is ${what}, which Rok does not snapshot inside a folder; move it out of the volume`, { details: { path: abs } })
  }

  /** Small files keep their chunk refs inline; larger ones get their own chunk list tree. */
  private async fileData (abs: string, st: BigIntStats, source: FileSource): Promise<Pick<Entry, 'data' | 'dataTree'>> {
    const inline: ChunkRef[] = []
    let tree: ListTreeBuilder<ChunkRef> | undefined
    const toTree = async (ref: ChunkRef): Promise<void> => {
      if (tree === undefined) {
        tree = new ListTreeBuilder(CHUNK_LIST, this.sink)
        for (const r of inline) await tree.add(r, r[1])
      }
      await tree.add(ref, ref[1])
    }
    // (no promise per chunk for the inline refs of small files)
    await chunkFile(abs, st, this.options, source, this.stats, ref => {
      if (tree === undefined && inline.length < INLINE_CHUNK_REFS) { inline.push(ref); return }
      return toTree(ref)
    }, () => this.progress(abs))
    if (tree === undefined) return { data: inline }
    return { dataTree: (await tree.finish())[0] }
  }
}
