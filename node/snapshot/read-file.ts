/**
 * Reads a file as a stream of buffers, keeping one read in flight ahead of the consumer
 * so disk reads overlap with chunking and hashing. Buffers come from a ring of three,
 * shared by every file of a snapshot and reused: a consumer may hold views into the
 * buffer it was given and the one before, but not older ones (chunkBatches copies a
 * straddling tail before it asks for more, and the store copies chunk bytes into its
 * pack buffer). Reuse matters: a tree of 20,000 small files must not allocate (and
 * zero) two large buffers per file.
 */
import type { FileHandle } from 'node:fs/promises'

export const READ_SIZE = 4 * 1024 * 1024
const RING = 3

export class ReadBuffers {
  private readonly ring: Uint8Array[] = []
  private turn = 0
  readonly size: number

  constructor (size = READ_SIZE) {
    this.size = size
  }

  next (): Uint8Array {
    const slot = this.turn++ % RING
    this.ring[slot] ??= Buffer.allocUnsafe(this.size)
    return this.ring[slot]
  }
}

/**
 * `expectedSize` (a regular file's size from stat) ends the stream without the extra
 * read that would find EOF; the caller's after-read stat catches a file that grew.
 */
export async function * readAhead (fd: FileHandle, buffers: ReadBuffers, signal?: AbortSignal, expectedSize?: number): AsyncGenerator<Uint8Array> {
  let position = 0
  const readNext = async (): Promise<Uint8Array> => {
    if (expectedSize !== undefined && position >= expectedSize) return new Uint8Array(0)
    const buf = buffers.next()
    const want = expectedSize === undefined ? buf.length : Math.min(buf.length, expectedSize - position)
    const { bytesRead } = await fd.read(buf, 0, want, position)
    position += bytesRead
    return buf.subarray(0, bytesRead)
  }
  let next = readNext()
  while (true) {
    const piece = await next
    if (piece.length === 0) return
    signal?.throwIfAborted()
    next = readNext()
    next.catch(() => {}) // surfaced when awaited
    yield piece
  }
}
