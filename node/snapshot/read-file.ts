/**
 * Reads a file as a stream of buffers, keeping one read in flight ahead of the consumer
 * so disk reads overlap with chunking and hashing. Buffers come from a ring of three and
 * are reused: a consumer may hold views into the buffer it was given and the one before,
 * but not older ones (chunkBatches copies a straddling tail before it asks for more, and
 * the store copies chunk bytes into its pack buffer). Reusing them keeps a large snapshot
 * from churning hundreds of megabytes through the garbage collector.
 */
import type { FileHandle } from 'node:fs/promises'

export const READ_SIZE = 4 * 1024 * 1024
const RING = 3

export async function * readAhead (fd: FileHandle, signal?: AbortSignal, readSize = READ_SIZE): AsyncGenerator<Uint8Array> {
  let position = 0
  let turn = 0
  const ring: Uint8Array[] = []
  const readNext = async (): Promise<Uint8Array> => {
    const slot = turn++ % RING
    ring[slot] ??= new Uint8Array(readSize)
    const buf = ring[slot]
    const { bytesRead } = await fd.read(buf, 0, readSize, position)
    position += bytesRead
    return bytesRead === readSize ? buf : buf.subarray(0, bytesRead)
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
