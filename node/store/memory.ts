/**
 * A BlockStore held in memory: for tests, benchmarks and short-lived tools that need a
 * real store without a disk. It copies bytes on put, so a caller reusing its buffer
 * cannot change a stored block; that is also why `get` does not re-hash: nothing but this
 * class can reach the bytes, and memory has no bit rot for a check to catch.
 */
import { RokError } from '../../protocol/errors.ts'
import { copyBytes } from '../../protocol/copy-bytes.ts'
import type { CID } from '../../protocol/cid.ts'
import { StoreErrorCode } from './errors.ts'
import { blockKey as keyOf } from './block-key.ts'
import type { BlockStore, StoreOptions } from './types.ts'

/** Blocks are copied into slabs of this size: one allocation per slab, not per 64 KiB chunk. */
const SLAB_BYTES = 4 * 1024 * 1024


export class MemoryBlockStore implements BlockStore {
  private readonly blocks = new Map<string, Uint8Array>()
  private bytes = 0
  private slab: Buffer | undefined
  private slabUsed = 0

  /** Number of blocks held. */
  get size (): number {
    return this.blocks.size
  }

  /** Total bytes held. */
  get byteLength (): number {
    return this.bytes
  }

  async has (cid: CID, options?: StoreOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    return this.blocks.has(keyOf(cid))
  }

  async get (cid: CID, options?: StoreOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const bytes = this.blocks.get(keyOf(cid))
    if (bytes === undefined) {
      throw new RokError(StoreErrorCode.BLOCK_NOT_FOUND, `block ${cid.toString()} is not in the store`, { details: { cid: cid.toString() } })
    }
    return bytes
  }

  async put (cid: CID, bytes: Uint8Array, options?: StoreOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const key = keyOf(cid)
    if (this.blocks.has(key)) return false
    this.blocks.set(key, this.copy(bytes))
    this.bytes += bytes.byteLength
    return true
  }

  /** A private copy, not zero-filled first (it is overwritten at once). */
  private copy (bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength > SLAB_BYTES / 4) return Buffer.from(bytes)
    if (this.slab === undefined || this.slabUsed + bytes.byteLength > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
      this.slabUsed = 0
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + bytes.byteLength)
    copyBytes(bytes, out, 0)
    this.slabUsed += bytes.byteLength
    return out
  }

  async flush (options?: StoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
  }
}
