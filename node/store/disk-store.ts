/**
 * The content-addressed block store on local disk. Blocks are appended to pack files
 * (one open pack per process, rotated at PACK_TARGET_SIZE) and located through an index
 * in level. Crash safety comes from ordering: pack bytes are written and fsynced before
 * the index entries that point at them are committed (synchronously), so after a crash
 * at any moment every index entry points at durable bytes; bytes without an entry are
 * unreferenced pack tails that gc reclaims. A full pack is sealed (fsynced, closed, its
 * entries committed with its table of contents, pack-format.ts) in the background while
 * puts go on into the next one; until then its blocks are answered from memory, as every
 * block not yet indexed is.
 */
import { constants } from 'node:fs'
import { mkdir, open, readdir, unlink, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { CID, bytesMatchCid } from '../../protocol/cid.ts'
import { copyBytes } from '../../protocol/copy-bytes.ts'
import { ProtocolErrorCode, RokError, isRokError } from '../../protocol/errors.ts'
import { StoreErrorCode } from './errors.ts'
import { alignDown, alignedBuffer, alignUp, DIRECT_IO_ALIGNMENT, startsOnPage } from './aligned-buffer.ts'
import { blockKey } from './block-key.ts'
import {
  ENTRY_HEADER_FIXED, FIRST_BLOCK_KEY, PACK_TARGET_SIZE, PackTableBuilder, decodeLocation, encodeLocation, entryHeader, packFileName, parsePackFileName, tableKey, writePaddingHeader,
  tablePack, writeEntryHeader, type BlockLocation
} from './pack-format.ts'
import { PackTables } from './pack-tables.ts'
import type { BlockStore, PutManyOptions, ReadIntoOptions, StoreOptions } from './types.ts'

/** Index entries per level batch (see indexEntries). */
const INDEX_BATCH = 4096

/** The slice of a level (sub)database the store needs, with binary keys and values. */
export interface BinaryIndex {
  get: (key: Uint8Array) => Promise<Uint8Array | undefined>
  getMany: (keys: Uint8Array[]) => Promise<Array<Uint8Array | undefined>>
  batch: (ops: Array<{ type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }>, options?: { sync?: boolean }) => Promise<void>
  iterator: (options?: Record<string, unknown>) => AsyncIterable<[Uint8Array, Uint8Array]>
}

export interface DiskStoreInit {
  /** Folder holding the pack files. */
  dir: string
  index: BinaryIndex
  /** @default PACK_TARGET_SIZE (32 MiB) */
  packTargetSize?: number
  /** Bytes buffered in memory before they are written to the pack. @default 4 MiB */
  writeBufferSize?: number
  /** gc's two-phase deletion (node/policy/candidates.ts); without it nothing is ever a candidate. */
  guard?: PresenceGuard
  /**
   * Write packs with O_DIRECT where the file system allows it (else as usual).
   * @default true
   */
  directWrites?: boolean
  /**
   * Read runs of blocks with O_DIRECT when the caller reads into page-aligned memory it
   * recycles (the exchange's serving side), where the file system allows it.
   * @default true
   */
  directReads?: boolean
}

/**
 * The store's rescue hook for gc. Every time a present block is asked for (`has`) or put
 * again, the store calls `touch` — a synchronous in-memory lookup, so the check costs
 * nothing when gc is idle — which rescues the block if it is a deletion candidate.
 */
export interface PresenceGuard {
  /** Changes when a sweep starts and ends deleting; an index lookup that spans a change is repeated. */
  readonly generation: number
  /** `cid` is present and wanted again. False when a sweep is deleting it right now: treat it as absent. */
  touch: (cid: CID) => boolean
}

const DEFAULT_WRITE_BUFFER = 4 * 1024 * 1024
/** Smaller write buffers (tests) are written as usual: a direct write needs whole aligned blocks. */
const MIN_DIRECT_WRITE_BUFFER = 64 * 1024
const MAX_OPEN_READERS = 64
/** getMany reads across gaps this small (entry headers, a skipped block) rather than seek. */
const MAX_READ_GAP = 64 * 1024
const MAX_RUN_BYTES = 8 * 1024 * 1024
/** Spans of putRun written in one pwritev at most (IOV_MAX is 1024). */
const MAX_SPANS_PER_WRITE = 64
/**
 * Runs shorter than this are read through the page cache even into page-aligned memory:
 * an update's scattered wants made many short direct reads, each a disk round trip and a
 * 2 MiB run buffer, and a 4 GiB folder's 1% update took 6.4-6.7 s instead of 5.0-5.2.
 */
const MIN_DIRECT_READ = 256 * 1024
/** Callers' lookups merged into one index getMany at most. */
const MAX_COALESCED_LOOKUPS = 64

interface OpenPack {
  id: number
  /** Where the pack is written: opened with O_DIRECT when `direct`. */
  fd: FileHandle
  /** Reads of a pack being written with O_DIRECT go through a handle of their own (no alignment rules). */
  readFd: FileHandle | undefined
  /**
   * Written with O_DIRECT: every write starts at a multiple of DIRECT_IO_ALIGNMENT, so
   * `written` stays aligned and the bytes past it wait in the buffer. Why: the page cache
   * copy of every byte written was the largest cost of receiving a sync (and of a fresh
   * page on a VM that hands freed memory back to its host, far larger than the copy).
   */
  direct: boolean
  /** Bytes in the file plus bytes buffered. */
  size: number
  /** Bytes already written to the file. */
  written: number
  /** Bytes covered by committed index entries; a failed pack is cut back to this. */
  committed: number
  /** Every block appended, indexed with the pack's own entries when it is sealed. */
  table: PackTableBuilder
}

/** A full pack being made durable and indexed while the next one fills. */
interface Sealing {
  pack: OpenPack
  /** Settles once the pack is fsynced, closed and its entries committed (or the seal failed). */
  done: Promise<void>
}

export interface StoredBlock {
  cid: CID
  location: BlockLocation
}

export class DiskBlockStore implements BlockStore {
  readonly dir: string
  private readonly index: BinaryIndex
  private readonly packTargetSize: number
  private readonly writeBufferSize: number
  /** Still true until a pack could not be opened with O_DIRECT here. */
  private directWrites: boolean
  private nextPackId: number
  private current: OpenPack | undefined
  private buffer: Uint8Array
  private spare: Uint8Array
  private buffered = 0
  private inflight: Promise<void> | undefined
  /** Spans to write straight from their callers' memory (putRun), in order. */
  private readonly regionQueue: Array<{ fd: FileHandle, memory: Uint8Array, at: number, done: PromiseWithResolvers<void> }> = []
  /** Settles once the queue of spans is empty; undefined while it is. */
  private regionsWritten: Promise<void> | undefined
  private writeError: unknown
  /** At most one full pack sealed in the background (see seal()). */
  private sealing: Sealing | undefined
  /** A background seal's failure: raised by every write until a flush has reported it. */
  private sealError: unknown
  /**
   * Written (maybe not yet durable) blocks whose index entries are not committed, by blockKey
   * (kept in the entry too: computed once per block, not once per use).
   */
  private readonly pending = new Map<string, { cid: CID, location: BlockLocation, key: string }>()
  /** Closed-but-not-yet-indexed packs are fsynced at close, so only `current` needs a sync. */
  private readonly readers = new Map<number, Promise<FileHandle>>()
  /** O_DIRECT read handles, for runs read into page-aligned memory (see readAt). */
  private readonly directReaders = new Map<number, Promise<FileHandle>>()
  /** Still true until a pack could not be opened or read with O_DIRECT here. */
  private directReads: boolean
  private chain: Promise<unknown> = Promise.resolve()
  private closed = false
  private readonly guard: PresenceGuard | undefined
  /** Where recently read packs' blocks sit, for reads that ask for it (ReadIntoOptions.packTables). */
  private readonly tables: PackTables
  private readonly lookups: Array<{ keys: Uint8Array[], resolve: (v: Array<Uint8Array | undefined>) => void, reject: (err: unknown) => void }> = []
  private lookingUp = false

  constructor (init: DiskStoreInit, nextPackId: number) {
    this.dir = init.dir
    this.index = init.index
    this.packTargetSize = init.packTargetSize ?? PACK_TARGET_SIZE
    this.writeBufferSize = init.writeBufferSize ?? DEFAULT_WRITE_BUFFER
    this.directWrites = (init.directWrites ?? true) && this.writeBufferSize >= MIN_DIRECT_WRITE_BUFFER && this.writeBufferSize % DIRECT_IO_ALIGNMENT === 0
    const buffer = this.directWrites ? alignedBuffer : (n: number) => new Uint8Array(n)
    this.buffer = buffer(this.writeBufferSize)
    this.spare = buffer(this.writeBufferSize)
    this.directReads = init.directReads ?? true
    this.nextPackId = nextPackId
    this.guard = init.guard
    this.tables = new PackTables(async id => await this.packTable(id))
  }

  async has (cid: CID, _options?: StoreOptions): Promise<boolean> {
    if (this.pending.has(blockKey(cid))) { this.guard?.touch(cid); return true }
    return (await this.indexedMany([cid]))[0]
  }

  /** For many CIDs at once: which are present (one index round-trip). */
  async hasMany (cids: CID[]): Promise<boolean[]> {
    const found = await this.indexedMany(cids)
    return found.map((v, i) => {
      if (v) return true
      if (!this.pending.has(blockKey(cids[i]))) return false
      this.guard?.touch(cids[i])
      return true
    })
  }

  /**
   * Which CIDs have an index entry, telling gc's guard that each found one is wanted again.
   * A lookup that overlapped the start or end of a sweep is repeated, so a block is never
   * reported present on the strength of an entry a sweep was deleting.
   */
  private async indexedMany (cids: CID[]): Promise<boolean[]> {
    const guard = this.guard
    for (;;) {
      const generation = guard?.generation
      const found = (await this.lookup(cids.map(c => c.bytes))).map(v => v !== undefined)
      if (guard === undefined) return found
      if (guard.generation !== generation) continue
      return found.map((f, i) => f && guard.touch(cids[i]))
    }
  }

  /**
   * For blocks the caller found absent (PutManyOptions.absent): none is taken as present,
   * and each is still a put again for gc's guard, which rescues one another writer stored
   * and a mark made a candidate meanwhile.
   */
  private touchedAbsent (blocks: Array<[CID, Uint8Array]>): boolean[] {
    const guard = this.guard
    if (guard !== undefined) for (const [cid] of blocks) guard.touch(cid)
    return new Array<boolean>(blocks.length).fill(false)
  }

  /**
   * Index lookups, coalesced: while one level getMany is in flight, the lookups asked for
   * meanwhile wait and then go together in the next one. Callers that store or read many
   * files at once (a snapshot, a restore) thus pay one index round trip per burst, not
   * one per file; a lone caller pays nothing extra.
   */
  private lookup (keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return new Promise((resolve, reject) => {
      this.lookups.push({ keys, resolve, reject })
      if (!this.lookingUp) void this.runLookups()
    })
  }

  private async runLookups (): Promise<void> {
    this.lookingUp = true
    while (this.lookups.length > 0) {
      const waiting = this.lookups.splice(0, MAX_COALESCED_LOOKUPS)
      try {
        const values = await this.index.getMany(waiting.length === 1 ? waiting[0].keys : waiting.flatMap(w => w.keys))
        let at = 0
        for (const w of waiting) { w.resolve(waiting.length === 1 ? values : values.slice(at, at + w.keys.length)); at += w.keys.length }
      } catch (err) {
        for (const w of waiting) w.reject(err)
      }
    }
    this.lookingUp = false
  }

  /**
   * Packs below this id are closed and every block in them is indexed, so an index scan
   * started now sees all their blocks (gc judges only those). The pack being filled and one
   * being sealed in the background hold blocks not yet indexed: they and later packs are
   * at or above it.
   */
  packIdLimit (): number {
    return Math.min(this.nextPackId, this.current?.id ?? Infinity, this.sealing?.pack.id ?? Infinity)
  }

  /** Where the index puts each block, undefined where it has none (blocks being written are not looked at). */
  async indexedLocations (cidBytes: Uint8Array[]): Promise<Array<BlockLocation | undefined>> {
    return (await this.lookup(cidBytes)).map(v => v === undefined ? undefined : decodeLocation(v))
  }

  async locate (cid: CID): Promise<BlockLocation | undefined> {
    const p = this.pending.get(blockKey(cid))
    if (p !== undefined) return p.location
    const v = await this.index.get(cid.bytes)
    return v === undefined ? undefined : decodeLocation(v)
  }

  async get (cid: CID, _options?: StoreOptions): Promise<Uint8Array> {
    this.checkOpen()
    const pendingEntry = this.pending.get(blockKey(cid))
    if (pendingEntry !== undefined && this.current?.id === pendingEntry.location.pack) {
      await this.serialize(async () => { await this.writeOut() })
    }
    const location = await this.locate(cid)
    if (location === undefined) {
      throw new RokError(StoreErrorCode.BLOCK_NOT_FOUND, `block ${cid.toString()} is not in the store`, { details: { cid: cid.toString() } })
    }
    let bytes: Uint8Array
    try {
      bytes = await this.readAt(location, cid)
    } catch (err) {
      // gc may have moved the block out of a mostly-dead pack and removed that pack since we looked it up
      const moved = await this.locate(cid)
      if (moved === undefined || moved.pack === location.pack) throw err
      bytes = await this.readAt(moved, cid)
    }
    if (!bytesMatchCid(cid, bytes)) {
      throw new RokError(ProtocolErrorCode.HASH_MISMATCH, `block ${cid.toString()} is corrupt on disk (pack ${packFileName(location.pack)} at ${location.offset}); run 'rok verify'`,
        { details: { cid: cid.toString(), pack: packFileName(location.pack), offset: location.offset } })
    }
    return bytes
  }

  async getMany (cids: CID[], options?: StoreOptions): Promise<Uint8Array[]> {
    try {
      return await this.readMany(cids)
    } catch (err) {
      // as in get(): a gc pack rewrite may have moved blocks since they were looked up; one more try
      if (isRokError(err, ProtocolErrorCode.HASH_MISMATCH) || isRokError(err, StoreErrorCode.BLOCK_NOT_FOUND)) throw err
      options?.signal?.throwIfAborted()
      return await this.readMany(cids)
    }
  }

  /**
   * getMany without the hash check, into memory the caller owns: every returned block's
   * ArrayBuffer was allocated for this call (blocks read together share one), by
   * `options.allocate` when given, so it may be transferred to another thread, which must
   * verify the bytes before using them, or reused by the caller once it is done with them.
   */
  async getManyUnverified (cids: CID[], options?: ReadIntoOptions): Promise<Uint8Array[]> {
    try {
      return await this.readMany(cids, false, options)
    } catch (err) {
      if (isRokError(err, StoreErrorCode.BLOCK_NOT_FOUND)) throw err
      options?.signal?.throwIfAborted()
      // the retry looks every block up in the index again
      this.tables.clear()
      return await this.readMany(cids, false, options)
    }
  }

  private async readMany (cids: CID[], verify = true, into?: ReadIntoOptions): Promise<Uint8Array[]> {
    this.checkOpen()
    if (this.pending.size > 0 && cids.some(cid => this.pending.has(blockKey(cid)))) {
      await this.serialize(async () => { await this.writeOut() })
    }
    const locations = await this.locateMany(cids, into?.packTables === true)
    // Blocks stored together sit next to each other in a pack: read each run at once.
    const order = cids.map((_, i) => i).sort((a, b) => locations[a].pack - locations[b].pack || locations[a].offset - locations[b].offset)
    const out = new Array<Uint8Array>(cids.length)
    let run: number[] = []
    const flushRun = async (): Promise<void> => {
      if (run.length === 0) return
      const first = locations[run[0]]
      const last = locations[run[run.length - 1]]
      const start = into?.entryHeaders === true ? first.offset - ENTRY_HEADER_FIXED - cids[run[0]].bytes.byteLength : first.offset
      const span = await this.readAt({ pack: first.pack, offset: start, length: last.offset + last.length - start }, cids[run[0]], !verify, into)
      for (const i of run) {
        const loc = locations[i]
        const bytes = span.subarray(loc.offset - start, loc.offset - start + loc.length)
        if (verify && !bytesMatchCid(cids[i], bytes)) {
          throw new RokError(ProtocolErrorCode.HASH_MISMATCH, `block ${cids[i].toString()} is corrupt on disk (pack ${packFileName(loc.pack)} at ${loc.offset}); run 'rok verify'`,
            { details: { cid: cids[i].toString(), pack: packFileName(loc.pack), offset: loc.offset } })
        }
        out[i] = bytes
      }
      run = []
    }
    for (const i of order) {
      const loc = locations[i]
      const prev = run.length === 0 ? undefined : locations[run[run.length - 1]]
      const contiguous = prev !== undefined && prev.pack === loc.pack && loc.offset >= prev.offset && loc.offset - (prev.offset + prev.length) <= MAX_READ_GAP &&
        loc.offset + loc.length - locations[run[0]].offset <= MAX_RUN_BYTES
      if (!contiguous) await flushRun()
      run.push(i)
    }
    await flushRun()
    return out
  }

  /**
   * Where each block sits: blocks being written, then (with `tables`) the tables of packs
   * read lately, then one index lookup for the rest, whose packs' tables are then read.
   */
  private async locateMany (cids: CID[], tables: boolean): Promise<BlockLocation[]> {
    const locations = new Array<BlockLocation | undefined>(cids.length)
    const missed: number[] = []
    // a serving node is seldom writing: no map key made per block when nothing is pending
    const pending = this.pending.size > 0
    for (let i = 0; i < cids.length; i++) {
      locations[i] = (pending ? this.pending.get(blockKey(cids[i]))?.location : undefined) ?? (tables ? this.tables.get(cids[i].bytes) : undefined)
      if (locations[i] === undefined) missed.push(i)
    }
    if (missed.length === 0) return locations as BlockLocation[]
    const found = await this.lookup(missed.map(i => cids[i].bytes))
    const sealedBelow = this.packIdLimit()
    for (let m = 0; m < missed.length; m++) {
      const i = missed[m]
      const value = found[m]
      const cid = cids[i]
      // written meanwhile: the index entry may not be there yet
      const loc = value === undefined ? this.pending.get(blockKey(cid))?.location : decodeLocation(value)
      if (loc === undefined) throw new RokError(StoreErrorCode.BLOCK_NOT_FOUND, `block ${cid.toString()} is not in the store`, { details: { cid: cid.toString() } })
      // only a closed pack's table is complete, and only sealed packs have one
      if (tables && loc.pack < sealedBelow) this.tables.learn(loc.pack)
      locations[i] = loc
    }
    return locations as BlockLocation[]
  }

  /**
   * Reads a block's bytes without verifying them (verify reports instead of throwing);
   * `own`: into an ArrayBuffer of its own, never Node's shared pool.
   */
  async readAt (location: BlockLocation, cid?: CID, own = false, into?: ReadIntoOptions): Promise<Uint8Array> {
    let allocate = into?.allocate
    if (allocate !== undefined && into?.pageAligned === true) {
      if (location.length < MIN_DIRECT_READ) {
        // a short run: through the page cache (readahead serves its neighbours) into memory of its own, not a whole run buffer
        allocate = undefined
        own = true
      } else if (this.directReads && this.current?.id !== location.pack) {
        const bytes = await this.readDirect(location, allocate, cid)
        if (bytes !== undefined) return bytes
      }
    }
    const fd = await this.reader(location.pack, cid)
    // not zero-filled first: every byte is read over (or the read fails below)
    const bytes = allocate !== undefined ? allocate(location.length) : own ? new Uint8Array(Buffer.allocUnsafeSlow(location.length).buffer, 0, location.length) : uninitialized(location.length)
    const { bytesRead } = await fd.read(bytes, 0, location.length, location.offset)
    if (bytesRead !== location.length) throw truncated(location, cid)
    return bytes
  }

  /**
   * The span widened to whole pages, read with O_DIRECT into page-aligned memory; undefined
   * when this file system refuses O_DIRECT (the caller reads as usual, and so does every
   * later read). Why: the serving side reads what it has not read for a while, often what
   * was just written with O_DIRECT; through the page cache that cost a fresh page and a
   * copy per 4 KiB, ~3 CPU-s per GiB on a VM that hands freed pages back to its host, and
   * 0.1 CPU-s this way. Repeated reads of one pack now go to the disk each time.
   */
  private async readDirect (location: BlockLocation, allocate: (n: number) => Uint8Array, cid?: CID): Promise<Uint8Array | undefined> {
    const start = alignDown(location.offset)
    const end = location.offset + location.length
    const length = alignUp(end) - start
    const fd = await this.reader(location.pack, cid, true)
    if (fd === undefined) return undefined
    const memory = allocate(length)
    let bytesRead: number
    try {
      ({ bytesRead } = await fd.read(memory, 0, length, start))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      this.directReads = false
      return undefined
    }
    // the pack's last page is short on disk: the file ends where the last block does
    if (start + bytesRead < end) throw truncated(location, cid)
    return memory.subarray(location.offset - start, end - start)
  }

  async put (cid: CID, bytes: Uint8Array, _options?: StoreOptions): Promise<boolean> {
    this.checkOpen()
    const key = blockKey(cid)
    if (this.pending.has(key)) return false
    if ((await this.indexedMany([cid]))[0]) return false
    if (this.pending.has(key)) return false
    return await this.serialize(async () => {
      if (this.sealError !== undefined) await this.sealed()
      if (this.pending.has(key)) return false
      await this.append(cid, bytes, key)
      return true
    })
  }

  async putMany (blocks: Array<[CID, Uint8Array]>, options?: PutManyOptions): Promise<boolean[]> {
    this.checkOpen()
    const found = options?.absent === true ? this.touchedAbsent(blocks) : await this.indexedMany(blocks.map(([cid]) => cid))
    return await this.serialize(async () => {
      if (this.sealError !== undefined) await this.sealed()
      return await this.appendAll(blocks, found)
    })
  }

  /**
   * Blocks the caller found absent that lie back to back in `span`'s first `used` bytes,
   * each behind its entry header (see BlockStore.putRun). When the span starts and ends
   * on pages and leaves room for an entry header, and the pack is written with direct I/O,
   * the store pads the pack to a page, writes a padding entry into the span's room and
   * writes the whole span from that memory as it is: a fetch's blocks then reach the disk
   * without being copied. Otherwise: putMany.
   */
  async putRun (span: Uint8Array, used: number, blocks: Array<[CID, Uint8Array]>, options?: PutManyOptions): Promise<boolean[]> {
    const room = span.byteLength - used
    if (options?.absent !== true || !this.directWrites || !startsOnPage(span) || span.byteLength % DIRECT_IO_ALIGNMENT !== 0 ||
      room < ENTRY_HEADER_FIXED || !within(span.subarray(0, used), blocks)) return await this.putMany(blocks, options)
    this.checkOpen()
    this.touchedAbsent(blocks)
    const { wrote, written } = await this.serialize(async () => {
      if (this.sealError !== undefined) await this.sealed()
      if (this.current === undefined || this.current.size >= this.packTargetSize) await this.rotate()
      const pack = this.current!
      // O_DIRECT refused by this file system after all
      if (!pack.direct) return { wrote: await this.appendAll(blocks, blocks.map(() => false)), written: undefined }
      if (this.buffered > 0) {
        // what other puts left in the buffer goes first, padded to a page
        await this.padToPage(pack)
        await this.writeOut(false)
      }
      const start = pack.size
      writePaddingHeader(span, used, room)
      const written = this.writeRegion(pack, span, start)
      pack.size = pack.written = start + span.byteLength
      const wrote: boolean[] = []
      for (const [cid, bytes] of blocks) {
        const key = blockKey(cid)
        // another writer's copy, still pending, stays the one indexed: this one is dead space
        if (this.pending.has(key)) { wrote.push(false); continue }
        const location: BlockLocation = { pack: pack.id, offset: start + bytes.byteOffset - span.byteOffset, length: bytes.byteLength }
        this.pending.set(key, { cid, location, key })
        pack.table.add(cid.bytes, location)
        wrote.push(true)
      }
      return { wrote, written }
    })
    // the caller's memory is free once it is in the file
    try {
      await written
    } catch (err) {
      throw diskError(err, this.dir)
    }
    return wrote
  }

  /**
   * Writes `memory` at `at` in the background, beside the buffer's writes (always at other
   * offsets): the write queue goes on meanwhile, and a complete writeOut waits for it.
   * One write at a time, of every span queued meanwhile that follows on in the file (one
   * pwritev): concurrent direct writes that extend a file wait for each other on its inode
   * lock, spinning (a 1 GiB fetch spent ~0.3 CPU-s so on ext4), and one span per write
   * left the disk a write per event-loop turn, too few to keep up. A failure is raised to
   * the caller and, like a failed buffer write, at the next settle().
   */
  private async writeRegion (pack: OpenPack, memory: Uint8Array, at: number): Promise<void> {
    const done = Promise.withResolvers<void>()
    this.regionQueue.push({ fd: pack.fd, memory, at, done })
    if (this.regionsWritten === undefined) this.regionsWritten = this.writeRegions()
    await done.promise
  }

  /** Writes the queued spans until none is left. Never rejects. */
  private async writeRegions (): Promise<void> {
    const queue = this.regionQueue
    while (queue.length > 0) {
      const fd = queue[0].fd
      let end = queue[0].at
      let n = 0
      while (n < queue.length && n < MAX_SPANS_PER_WRITE && queue[n].fd === fd && queue[n].at === end) end += queue[n++].memory.byteLength
      const batch = queue.splice(0, n)
      try {
        await writevFully(fd, batch.map(b => b.memory), batch[0].at)
        for (const b of batch) b.done.resolve()
      } catch (err) {
        this.writeError ??= err
        for (const b of batch) b.done.reject(err)
      }
    }
    this.regionsWritten = undefined
  }

  /** Appends `blocks` whose `found` is false, one by one (inside the write queue). */
  private async appendAll (blocks: Array<[CID, Uint8Array]>, found: boolean[]): Promise<boolean[]> {
    const wrote: boolean[] = []
    for (let i = 0; i < blocks.length; i++) {
      const [cid, bytes] = blocks[i]
      const key = blockKey(cid)
      if (found[i] || this.pending.has(key)) { wrote.push(false); continue }
      const appending = this.append(cid, bytes, key)
      if (appending !== undefined) await appending
      wrote.push(true)
    }
    return wrote
  }

  /** A padding entry up to the next page boundary of the pack, if it is not on one. */
  private async padToPage (pack: OpenPack): Promise<void> {
    let gap = (DIRECT_IO_ALIGNMENT - pack.size % DIRECT_IO_ALIGNMENT) % DIRECT_IO_ALIGNMENT
    if (gap === 0) return
    // an entry header needs room: a gap too small for one grows by a page
    if (gap < ENTRY_HEADER_FIXED) gap += DIRECT_IO_ALIGNMENT
    const padding = new Uint8Array(gap)
    writePaddingHeader(padding, 0, gap)
    await this.bufferBytes(padding)
  }

  async flush (_options?: StoreOptions): Promise<void> {
    this.checkOpen()
    await this.serialize(async () => {
      await this.writeOut()
      if (this.current !== undefined) await this.syncCurrent()
      // the full pack's entries go first: the index never holds entries of a pack not yet durable
      await this.sealed(true)
      await this.commitPending()
    })
  }

  /**
   * Wait for the background seal, if any; raise a failed seal's error (its blocks were
   * dropped: whoever stored them must not record a version). `report`: a flush, after which
   * the error is not raised again.
   */
  private async sealed (report = false): Promise<void> {
    await this.sealing?.done
    const err = this.sealError
    if (err === undefined) return
    if (report) this.sealError = undefined
    throw err
  }

  /** Index every pending block; only called once their bytes are fsynced. */
  private async commitPending (): Promise<void> {
    if (this.pending.size === 0) return
    // every pending block is in the current pack (a flush waits for the seal of the one before)
    await this.indexEntries(this.current, [...this.pending.values()])
    this.pending.clear()
    // after a full writeOut every buffered byte is in the file (with O_DIRECT, `written` stops short of an unaligned end)
    if (this.current !== undefined) this.current.committed = this.current.size
  }

  /**
   * Remove index entries (gc). The bytes stay in their packs until the pack is rewritten.
   * `choose` runs inside the write queue, just before the deletion, so no put is half-way
   * between finding a block present and indexing its own copy while the choice is made.
   */
  async deleteIndexEntries (choose: CID[] | (() => CID[] | Promise<CID[]>)): Promise<CID[]> {
    return await this.serialize(async () => {
      await this.sealed()
      const cids = typeof choose === 'function' ? await choose() : choose
      if (cids.length > 0) await this.index.batch(cids.map(c => ({ type: 'del' as const, key: c.bytes })), { sync: true })
      return cids
    })
  }

  /**
   * Copy blocks into the current pack and point the index at the copies (gc rewrites
   * mostly-dead packs this way). The new pack is fsynced before the index moves, and the
   * old pack is only removed by the caller after this returns, so a crash at any moment
   * leaves every entry pointing at good bytes. Corrupt blocks are not copied: returns them.
   */
  async moveBlocks (blocks: StoredBlock[]): Promise<CID[]> {
    this.checkOpen()
    const corrupt: CID[] = []
    for (const { cid, location } of blocks) {
      const bytes = await this.readAt(location, cid)
      if (!bytesMatchCid(cid, bytes)) { corrupt.push(cid); continue }
      await this.serialize(async () => { await this.append(cid, bytes) })
    }
    await this.flush()
    return corrupt
  }

  /** Every indexed block, in index order. */
  async * blocks (): AsyncGenerator<StoredBlock> {
    for await (const [key, value] of this.index.iterator({ gte: FIRST_BLOCK_KEY })) {
      yield { cid: CID.decode(key), location: decodeLocation(value) }
    }
  }

  async packIds (): Promise<number[]> {
    return (await readdir(this.dir)).map(parsePackFileName).filter((id): id is number => id !== undefined).sort((a, b) => a - b)
  }

  async packSize (id: number): Promise<number> {
    return (await stat(join(this.dir, packFileName(id)))).size
  }

  /** Every stored pack table of contents, by pack id (rok verify checks them). */
  async * packTables (): AsyncGenerator<{ pack: number, table: Uint8Array }> {
    for await (const [key, table] of this.index.iterator({ gte: tableKey(0), lt: FIRST_BLOCK_KEY })) {
      yield { pack: tablePack(key), table }
    }
  }

  /** Pack `id`'s table of contents as stored, if it has one. */
  async packTable (id: number): Promise<Uint8Array | undefined> {
    return await this.index.get(tableKey(id))
  }

  /**
   * Forget pack `id`'s table of contents, durably: its blocks are then located through the
   * index alone. A table is only a shortcut to what the index says, so dropping one loses
   * nothing.
   */
  async dropPackTable (id: number): Promise<void> {
    this.tables.forget(id)
    await this.index.batch([{ type: 'del', key: tableKey(id) }], { sync: true })
  }

  async removePack (id: number): Promise<void> {
    // durable before the pack goes: a later pack given this id must never meet this table
    await this.dropPackTable(id)
    for (const readers of [this.readers, this.directReaders]) {
      const fd = readers.get(id)
      if (fd !== undefined) { readers.delete(id); await (await fd.catch(() => undefined))?.close() }
    }
    await unlink(join(this.dir, packFileName(id))).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
  }

  async close (): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
      await this.serialize(async () => {
        if (this.current !== undefined) { await closePack(this.current); this.current = undefined }
      })
      for (const readers of [this.readers, this.directReaders]) {
        for (const fd of readers.values()) await (await fd.catch(() => undefined))?.close()
        readers.clear()
      }
    }
  }

  private checkOpen (): void {
    if (this.closed) throw new RokError(StoreErrorCode.STORE_CLOSED, 'the block store is closed')
  }

  /** Pack writes happen one at a time, in order. */
  private async serialize<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return await run
  }

  /**
   * Appends a block to the current pack. Undefined when it was done at once: the common
   * case (room in the pack and its buffer) costs no promise, which a fetch pays per block.
   */
  private append (cid: CID, bytes: Uint8Array, key = blockKey(cid)): Promise<void> | undefined {
    const pack = this.current
    const cidBytes = cid.bytes
    const headerLength = ENTRY_HEADER_FIXED + cidBytes.length
    if (pack === undefined || pack.size >= this.packTargetSize || headerLength + bytes.length > this.buffer.length - this.buffered) {
      return this.appendSlowly(cid, bytes, key)
    }
    const location: BlockLocation = { pack: pack.id, offset: pack.size + headerLength, length: bytes.length }
    writeEntryHeader(this.buffer, this.buffered, cidBytes, bytes.length)
    copyBytes(bytes, this.buffer, this.buffered + headerLength)
    this.buffered += headerLength + bytes.length
    pack.size += headerLength + bytes.length
    this.pending.set(key, { cid, location, key })
    pack.table.add(cidBytes, location)
    return undefined
  }

  /** append() when the pack must be rotated or the buffer written out first. */
  private async appendSlowly (cid: CID, bytes: Uint8Array, key: string): Promise<void> {
    if (this.current === undefined || this.current.size >= this.packTargetSize) await this.rotate()
    const pack = this.current!
    const cidBytes = cid.bytes
    const headerLength = ENTRY_HEADER_FIXED + cidBytes.length
    const location: BlockLocation = { pack: pack.id, offset: pack.size + headerLength, length: bytes.length }
    await this.bufferBytes(entryHeader(cidBytes, bytes.length))
    await this.bufferBytes(bytes)
    this.pending.set(key, { cid, location, key })
    pack.table.add(cidBytes, location)
  }

  private async bufferBytes (bytes: Uint8Array): Promise<void> {
    const pack = this.current!
    if (pack.direct) {
      // in buffer-sized pieces: a direct write must start and end on aligned offsets
      for (let at = 0; at < bytes.length;) {
        if (this.buffered === this.buffer.length) await this.writeOut(false)
        const n = Math.min(bytes.length - at, this.buffer.length - this.buffered)
        copyBytes(bytes.subarray(at, at + n), this.buffer, this.buffered)
        this.buffered += n
        at += n
      }
    } else {
      if (bytes.length > this.buffer.length - this.buffered) await this.writeOut(false)
      if (bytes.length > this.buffer.length) {
        await this.settle()
        await this.guardDiskErrors(async () => { await writeFully(pack.fd, bytes, bytes.length, pack.written) })
        pack.written += bytes.length
      } else {
        copyBytes(bytes, this.buffer, this.buffered)
        this.buffered += bytes.length
      }
    }
    pack.size += bytes.length
  }

  /**
   * Hand the write buffer to the disk. With `wait` false the write goes on in the
   * background while the next buffer fills (write-behind); a failure is kept and raised,
   * inside the serialized section, at the next settle(). With `wait` every buffered byte
   * is in the file when it returns.
   */
  private async writeOut (wait = true): Promise<void> {
    await this.settle()
    const pack = this.current
    if (pack !== undefined && pack.direct && this.buffered > 0) {
      this.writeOutDirect(pack, wait)
    } else if (pack !== undefined && this.buffered > 0) {
      const buf = this.buffer
      const n = this.buffered
      const at = pack.written
      this.buffer = this.spare
      this.spare = buf
      this.buffered = 0
      pack.written += n
      this.inflight = writeFully(pack.fd, buf, n, at).catch((err: unknown) => { this.writeError = err })
    }
    if (wait) {
      await this.regionsWritten
      await this.settle()
    }
  }

  /**
   * The aligned part of the buffer goes to the file; the unaligned end is carried to the
   * start of the next buffer, to be written again with what follows it. A complete write
   * (`all`) also writes that end, padded to a whole block, and cuts the file back to the
   * pack's real size.
   */
  private writeOutDirect (pack: OpenPack, all: boolean): void {
    const buf = this.buffer
    const n = this.buffered
    const aligned = alignDown(n)
    const tail = n - aligned
    const length = all ? alignUp(n) : aligned
    const at = pack.written
    this.buffer = this.spare
    this.spare = buf
    this.buffer.set(buf.subarray(aligned, n), 0)
    this.buffered = tail
    pack.written += aligned
    if (length === 0) return
    const end = at + n
    this.inflight = (async () => {
      await writeFully(pack.fd, buf, length, at)
      if (length > n) await pack.fd.truncate(end)
    })().catch((err: unknown) => { this.writeError = err })
  }

  private async settle (): Promise<void> {
    const inflight = this.inflight
    if (inflight === undefined) return
    this.inflight = undefined
    await inflight
    const err = this.writeError
    if (err !== undefined) {
      this.writeError = undefined
      await this.guardDiskErrors(async () => { throw err })
    }
  }

  private async syncCurrent (): Promise<void> {
    await this.settle()
    const pack = this.current!
    await this.guardDiskErrors(async () => { await pack.fd.sync() })
  }

  private async rotate (): Promise<void> {
    if (this.current !== undefined) {
      await this.writeOut()
      // a direct pack's unaligned end is in the file now, and stays out of the next pack
      this.buffered = 0
      // one seal at a time: entries are committed in pack order, and memory stays bounded
      await this.sealed()
      const pack = this.current
      this.current = undefined
      // A full pack is indexed as soon as it is durable, so a long snapshot that is killed
      // later does not have to read and store these chunks again when it is rerun. Every
      // pending block is in this pack (an earlier seal has removed its own).
      const done = this.seal(pack, [...this.pending.values()])
      this.sealing = { pack, done }
      void done.then(() => { if (this.sealing?.done === done) this.sealing = undefined })
    }
    await mkdir(this.dir, { recursive: true })
    const id = this.nextPackId++
    this.current = await this.guardDiskErrors(async () => await this.openPack(id))
  }

  private async openPack (id: number): Promise<OpenPack> {
    const path = join(this.dir, packFileName(id))
    if (this.directWrites) {
      let fd: FileHandle | undefined
      try {
        fd = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644)
        return { id, fd, readFd: await open(path, 'r'), direct: true, size: 0, written: 0, committed: 0, table: new PackTableBuilder() }
      } catch (err) {
        await fd?.close()
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        // a file system without O_DIRECT (the empty file may have been made): plain writes from now on
        this.directWrites = false
        await unlink(path).catch(() => {})
      }
    }
    return { id, fd: await open(path, 'wx+'), readFd: undefined, direct: false, size: 0, written: 0, committed: 0, table: new PackTableBuilder() }
  }

  /**
   * Put index entries (and `extra`, with the last of them) in batches of INDEX_BATCH, the
   * last one synced, which makes the earlier ones durable too (LevelDB writes its log in
   * order). One batch of a 40,000-file snapshot's entries held the event loop for 114 ms.
   * A crash between batches leaves some blocks unindexed: their bytes are stored again by
   * the write that is rerun, and the pack's copies are dead space gc reclaims. The bytes
   * are durable before this is called; `pack.committed` moves past each batch written, so
   * a failure in a later one (abandon truncates the pack there) never cuts off a block an
   * earlier batch indexed.
   */
  private async indexEntries (pack: OpenPack | undefined, entries: Array<{ cid: CID, location: BlockLocation }>, extra?: { key: Uint8Array, value: Uint8Array }): Promise<void> {
    for (let start = 0; start < entries.length || (start === 0 && extra !== undefined); start += INDEX_BATCH) {
      const ops: Array<{ type: 'put', key: Uint8Array, value: Uint8Array }> = []
      const end = Math.min(entries.length, start + INDEX_BATCH)
      let covered = pack?.committed ?? 0
      for (let i = start; i < end; i++) {
        const { cid, location } = entries[i]
        ops.push({ type: 'put', key: cid.bytes, value: encodeLocation(location) })
        if (location.pack === pack?.id) covered = Math.max(covered, location.offset + location.length)
      }
      const last = end === entries.length
      if (last && extra !== undefined) ops.push({ type: 'put', ...extra })
      await this.index.batch(ops, { sync: last })
      if (pack !== undefined) pack.committed = covered
    }
  }

  /**
   * Make a full pack durable (fsync, close), then commit its blocks' index entries and
   * drop them from `pending`. Runs beside the puts that fill the next pack. On failure the
   * blocks are dropped unindexed (their space given back) and the error is kept for the
   * next write or flush to raise. Never rejects.
   */
  private async seal (pack: OpenPack, entries: Array<{ cid: CID, location: BlockLocation, key: string }>): Promise<void> {
    try {
      await pack.fd.sync()
      await closePack(pack)
      // the whole pack's table, with its last entries: a pack is never appended to once sealed
      await this.indexEntries(pack, entries, pack.table.count > 0 ? { key: tableKey(pack.id), value: pack.table.encode() } : undefined)
    } catch (err) {
      this.sealError = diskError(err, this.dir)
      await this.abandon(pack)
    } finally {
      for (const e of entries) if (this.pending.get(e.key) === e) this.pending.delete(e.key)
    }
  }

  /**
   * A failed write leaves the current pack with an unknown tail, so everything not yet
   * indexed is abandoned (it never reaches the index) and the next put starts a new pack.
   */
  private async guardDiskErrors<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      const pack = this.current
      this.current = undefined
      this.buffered = 0
      this.pending.clear()
      if (pack !== undefined) await this.abandon(pack)
      throw diskError(err, this.dir)
    }
  }

  /** Give back the space of a failed pack's unindexed tail (on a full disk, that is the point). */
  private async abandon (pack: OpenPack): Promise<void> {
    await pack.fd.truncate(pack.committed).catch(() => {})
    await closePack(pack).catch(() => {})
    if (pack.committed === 0) await unlink(join(this.dir, packFileName(pack.id))).catch(() => {})
  }

  /**
   * A read handle per pack, shared: concurrent reads of one pack share one open (the
   * promise is cached, not the handle), and the least recently used handle is closed when
   * too many are open — with far more slots than reads in flight, never one in use.
   * `direct`: an O_DIRECT handle, undefined once O_DIRECT turned out refused here.
   */
  private async reader (id: number, cid?: CID): Promise<FileHandle>
  private async reader (id: number, cid: CID | undefined, direct: true): Promise<FileHandle | undefined>
  private async reader (id: number, cid?: CID, direct = false): Promise<FileHandle | undefined> {
    const cur = this.current
    if (!direct && cur !== undefined && cur.id === id) return cur.readFd ?? cur.fd
    const readers = direct ? this.directReaders : this.readers
    const cached = readers.get(id)
    if (cached !== undefined) {
      readers.delete(id)
      readers.set(id, cached)
      return await cached
    }
    const flags = direct ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY
    const opening = open(join(this.dir, packFileName(id)), flags).catch((err: NodeJS.ErrnoException) => {
      readers.delete(id)
      if (err.code === 'ENOENT') {
        throw new RokError(StoreErrorCode.PACK_DAMAGED, `pack ${packFileName(id)} is missing${cid !== undefined ? ` (needed for block ${cid.toString()})` : ''}; run 'rok verify'`,
          { details: { pack: packFileName(id), cid: cid?.toString() } })
      }
      throw err
    })
    readers.set(id, opening)
    if (readers.size > MAX_OPEN_READERS) {
      const [oldest, oldFd] = readers.entries().next().value as [number, Promise<FileHandle>]
      readers.delete(oldest)
      void oldFd.then(async fd => { await fd.close() }, () => {})
    }
    try {
      return await opening
    } catch (err) {
      if (!direct || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      this.directReads = false
      return undefined
    }
  }
}

export async function openDiskStore (init: DiskStoreInit): Promise<DiskBlockStore> {
  await mkdir(init.dir, { recursive: true })
  const ids = (await readdir(init.dir)).map(parsePackFileName).filter((id): id is number => id !== undefined)
  const next = ids.length === 0 ? 1 : Math.max(...ids) + 1
  return new DiskBlockStore(init, next)
}

function truncated (location: BlockLocation, cid: CID | undefined): RokError {
  return new RokError(StoreErrorCode.PACK_DAMAGED, `pack ${packFileName(location.pack)} is truncated: block ${cid?.toString() ?? ''} is missing; run 'rok verify'`,
    { details: { pack: packFileName(location.pack), cid: cid?.toString() } })
}

/** A full disk as the store's clear error; any other failure as it is. */
function diskError (err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RokError(StoreErrorCode.DISK_FULL, `disk full while writing to ${dir}: free some space and run the command again (nothing partial was recorded)`, { cause: err })
  }
  return err
}

/** A Uint8Array of its own memory, not cleared (large ones outside Node's shared pool). */
function uninitialized (length: number): Uint8Array {
  const buf = length >= 4096 ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length)
  return new Uint8Array(buf.buffer, buf.byteOffset, length)
}

async function closePack (pack: OpenPack): Promise<void> {
  try {
    await pack.fd.close()
  } finally {
    await pack.readFd?.close()
  }
}

/** `buffers` written back to back from `position` on, all of them. */
async function writevFully (fd: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  const pieces = [...buffers]
  let at = position
  while (pieces.length > 0) {
    let { bytesWritten } = await fd.writev(pieces, at)
    if (bytesWritten === 0) throw new Error(`wrote nothing at offset ${at}`)
    at += bytesWritten
    // a short write: go on from where it stopped
    while (pieces.length > 0 && bytesWritten >= pieces[0].byteLength) bytesWritten -= pieces.shift()!.byteLength
    if (bytesWritten > 0) pieces[0] = pieces[0].subarray(bytesWritten)
  }
}

/** True when every block lies inside `entries` (the same memory). */
function within (entries: Uint8Array, blocks: Array<[CID, Uint8Array]>): boolean {
  const end = entries.byteOffset + entries.byteLength
  for (const [, bytes] of blocks) {
    if (bytes.buffer !== entries.buffer || bytes.byteOffset < entries.byteOffset || bytes.byteOffset + bytes.byteLength > end) return false
  }
  return true
}

async function writeFully (fd: FileHandle, buf: Uint8Array, n: number, position: number): Promise<void> {
  await writevFully(fd, [buf.subarray(0, n)], position)
}
