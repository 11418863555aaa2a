/**
 * Memory for received blocks that is used again once they are stored. Blocks (and RUN
 * frames of blocks, about 1 MiB each) are carved from 4 MiB slabs; a slab whose blocks have all been released goes back to a small free
 * list instead of to the garbage collector. Why: V8 starts a full collection after every
 * ~64 MB of new ArrayBuffer memory, and a fetch that allocated each 16 KiB block anew
 * spent about a third of its CPU in those collections.
 *
 * Each allocated block must be released exactly once, and only when nothing reads it any
 * more (after the store has copied or written it): its memory then holds another block.
 * A block never released is no leak: its slab is simply not reused and the collector
 * frees it. A RUN's memory is one allocation `share`d by its blocks, each released on its
 * own. Allocations over half a slab get their own buffer and are not pooled.
 *
 * With `shared`, slabs are SharedArrayBuffers, so the hash worker can read the blocks
 * where they were received (see BlockVerifier), and they start on a page boundary, so an
 * allocation can put a chosen byte on one and keep the rest of its last page: a RUN's
 * entries, which the disk store then pads and writes to its pack with direct I/O as they
 * are (pageSpan, DiskBlockStore.putRun). Copy out of them with `copyBytes`: V8's
 * `set` copies shared memory byte by byte, about 5x slower. Shared slabs are all kept
 * for reuse until `trim`: the worker holds a reference to every slab it has read, so one
 * dropped here would stay allocated until the worker ends (a 1 GiB fetch that dropped
 * and remade slabs grew its process by ~100 MB). The verifier calls `trim` when it ends
 * its idle worker.
 */
import type { BlockAllocator } from '../../../protocol/exchange.ts'
import { alignedSharedBuffer, alignUp, DIRECT_IO_ALIGNMENT } from '../../store/aligned-buffer.ts'

export const ARENA_SLAB_BYTES = 4 * 1024 * 1024
const SLAB_BYTES = ARENA_SLAB_BYTES
/** Bytes a page-placed allocation keeps past its end at least (then up to a page boundary): room for a pack's padding entry header. */
const PAGE_ROOM = 8
/** Free (unshared) slabs kept for reuse; more are left to the collector. */
const MAX_FREE_SLABS = 4

interface Slab {
  buffer: ArrayBuffer | SharedArrayBuffer
  /** Bytes handed out from the start of the slab. */
  used: number
  /** Blocks handed out and not yet released. */
  live: number
}

export class BlockArena implements BlockAllocator {
  private readonly slabs = new WeakMap<ArrayBufferLike, Slab>()
  private readonly free: Slab[] = []
  private current: Slab | undefined
  private readonly shared: boolean
  /** Allocations placed on a page with room after them (see pageSpan). */
  private readonly placed = new WeakSet<Uint8Array>()

  constructor (options: { shared?: boolean } = {}) {
    this.shared = options.shared === true
  }

  /**
   * `n` bytes. With `pageAt`, when the slabs start on pages (shared ones), byte `pageAt`
   * of them starts a page and the allocation keeps the rest of its last page (at least
   * PAGE_ROOM bytes): see pageSpan. Bytes skipped for it stay unused until the slab starts over.
   */
  allocate (n: number, pageAt?: number): Uint8Array {
    if (n > SLAB_BYTES / 2) return Buffer.allocUnsafeSlow(n)
    // unshared slabs do not start on pages: nothing to place
    const at = this.shared ? pageAt : undefined
    let slab = this.current
    if (slab === undefined || place(slab.used, n, at).end > SLAB_BYTES) {
      this.current = undefined
      if (slab !== undefined && slab.live === 0) this.recycle(slab)
      slab = this.free.pop() ?? this.newSlab()
      this.current = slab
    }
    const { start, end } = place(slab.used, n, at)
    const out = new Uint8Array(slab.buffer, start, n)
    slab.used = end
    slab.live++
    if (at !== undefined) this.placed.add(out)
    return out
  }

  /**
   * The memory of a page-placed allocation from its byte `from` (which starts a page) to
   * the end of its room, a whole number of pages; undefined for any other memory. The
   * room past `bytes` is the holder's to write (a store pads there).
   */
  pageSpan (bytes: Uint8Array, from: number): Uint8Array | undefined {
    const start = bytes.byteOffset + from
    if (!this.placed.has(bytes) || start % DIRECT_IO_ALIGNMENT !== 0) return undefined
    return new Uint8Array(bytes.buffer, start, alignUp(bytes.byteOffset + bytes.byteLength + PAGE_ROOM) - start)
  }

  /** `bytes` (one allocation) now holds `count` blocks, each released on its own. */
  share (bytes: Uint8Array, count: number): void {
    const slab = this.slabs.get(bytes.buffer)
    if (slab !== undefined && count > 1) slab.live += count - 1
  }

  /** `bytes` (from `allocate`, or a block of a shared run) will not be read again. Bytes from elsewhere are ignored. */
  release (bytes: Uint8Array): void {
    const slab = this.slabs.get(bytes.buffer)
    if (slab === undefined || slab.live === 0) return
    slab.live--
    if (slab.live > 0) return
    // the current slab starts over in place; a full one goes back to the free list
    if (slab === this.current) slab.used = 0
    else this.recycle(slab)
  }

  /** Free slabs held for reuse (tests). */
  get freeSlabs (): number {
    return this.free.length
  }

  /** Let every free slab go (shared slabs are otherwise kept; see the class comment). */
  trim (): void {
    for (const slab of this.free) this.slabs.delete(slab.buffer)
    this.free.length = 0
  }

  private recycle (slab: Slab): void {
    if (!this.shared && this.free.length >= MAX_FREE_SLABS) {
      this.slabs.delete(slab.buffer)
      return
    }
    slab.used = 0
    this.free.push(slab)
  }

  private newSlab (): Slab {
    // never zero-filled when it can be helped: every byte handed out is written before it is read
    const buffer = this.shared ? alignedSharedBuffer(SLAB_BYTES) : Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer
    const slab: Slab = { buffer, used: 0, live: 0 }
    this.slabs.set(slab.buffer, slab)
    return slab
  }
}

/**
 * Where `n` bytes go in a slab used up to `used`, and where the slab is used up to after
 * them: with `pageAt`, byte `pageAt` of them starts a page and the rest of their last
 * page (at least PAGE_ROOM bytes) is theirs too.
 */
function place (used: number, n: number, pageAt: number | undefined): { start: number, end: number } {
  if (pageAt === undefined) return { start: used, end: used + n }
  const start = used + (DIRECT_IO_ALIGNMENT - (used + pageAt) % DIRECT_IO_ALIGNMENT) % DIRECT_IO_ALIGNMENT
  return { start, end: alignUp(start + n + PAGE_ROOM) }
}
