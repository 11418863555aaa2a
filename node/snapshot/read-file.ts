/**
 * Reads a file as a stream of fresh buffers, keeping one read in flight ahead of the
 * consumer so disk reads overlap with chunking and hashing.
 */
import type { FileHandle } from 'node:fs/promises'

export const READ_SIZE = 4 * 1024 * 1024

export async function * readAhead (fd: FileHandle, signal?: AbortSignal, readSize = READ_SIZE): AsyncGenerator<Uint8Array> {
  let position = 0
  const readNext = async (): Promise<Uint8Array> => {
    const buf = new Uint8Array(readSize)
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
