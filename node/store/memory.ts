/**
 * A BlockStore held in memory: for tests, benchmarks and short-lived tools that need a
 * real store without a disk. It copies bytes on put, so a caller reusing its buffer
 * cannot change a stored block; that is also why `get` does not re-hash: nothing but this
 * class can reach the bytes, and memory has no bit rot for a check to catch.
 */
import { RokError } from '../../protocol/errors.ts'
import type { CID } from '../../protocol/cid.ts'
import { StoreErrorCode } from './errors.ts'
import type { BlockStore, StoreOptions } from './types.ts'

export class MemoryBlockStore implements BlockStore {
  private readonly blocks = new Map<string, Uint8Array>()
  private bytes = 0

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
    return this.blocks.has(cid.toString())
  }

  async get (cid: CID, options?: StoreOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const bytes = this.blocks.get(cid.toString())
    if (bytes === undefined) {
      throw new RokError(StoreErrorCode.BLOCK_NOT_FOUND, `block ${cid.toString()} is not in the store`, { details: { cid: cid.toString() } })
    }
    return bytes
  }

  async put (cid: CID, bytes: Uint8Array, options?: StoreOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const key = cid.toString()
    if (this.blocks.has(key)) return false
    // a private copy (not zero-filled first: it is overwritten at once)
    const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
    copy.set(bytes)
    this.blocks.set(key, copy)
    this.bytes += bytes.byteLength
    return true
  }

  async flush (options?: StoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
  }
}
