/**
 * Memory the serving side reads runs of blocks into, used again once they are sent. A
 * disk store otherwise reads every run into a new buffer: ~1 GiB of new ArrayBuffer
 * memory per GiB served, and V8 starts a full collection after every ~64 MB of it (a third
 * of a sending daemon's main thread in a 1 GiB sync went to those collections).
 *
 * Only for streams that say when they no longer read what they were sent
 * (`sendThenRelease`, the data channel's): a buffer goes back here once every block read
 * into it has been written.
 *
 * Every buffer starts on a page boundary, so a disk store reads into it with O_DIRECT
 * (no page cache copy); and because the kernel copies into memory that is not 64-byte
 * aligned several times slower (malloc's large blocks start 16 bytes into a page: a
 * 1 GiB read cost 0.6 CPU-s that way and 0.1 s into aligned memory).
 */
import { alignedBuffer } from '../../store/aligned-buffer.ts'

/** A run of ~1 MiB of blocks plus their pack entry headers, widened to whole pages, fits. */
const BUFFER_BYTES = 2 * 1024 * 1024
/**
 * Free buffers kept; more are left to the collector. Above what one busy stream holds at
 * once (EXCHANGE_SERVE_CONCURRENCY runs being read, plus those queued until the next
 * flush): with 8, a 1 GiB serve dropped and allocated 33 buffers (66 MB of new memory for
 * the collector); with 16 it allocates 10 and reuses them.
 */
const MAX_FREE = 16

export class RunBuffers {
  private readonly free: ArrayBuffer[] = []
  /** Pooled buffers ever allocated (tests). */
  allocated = 0

  /** Room for `n` bytes, starting on a page boundary; `held` collects the pooled buffer to release later. */
  allocate (n: number, held: ArrayBuffer[]): Uint8Array {
    if (n > BUFFER_BYTES) return alignedBuffer(n)
    // never zero-filled: the store reads over every byte it returns
    let buffer = this.free.pop()
    if (buffer === undefined) {
      buffer = alignedBuffer(BUFFER_BYTES).buffer as ArrayBuffer
      this.allocated++
    }
    held.push(buffer)
    return new Uint8Array(buffer, 0, n)
  }

  /** Nothing reads these any more. */
  release (buffers: ArrayBuffer[]): void {
    for (const buffer of buffers) if (this.free.length < MAX_FREE) this.free.push(buffer)
  }

  /** Free buffers held (tests). */
  get freeBuffers (): number {
    return this.free.length
  }
}
