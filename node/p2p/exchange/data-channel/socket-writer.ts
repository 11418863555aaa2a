/**
 * Writes to a data-channel socket one buffer at a time. What is sent while a write is in
 * the socket is copied into reused 2 MiB slabs and written when that write completes.
 * Why: a Node socket handed several buffers before the last write finished passes them
 * to `writev`, and its TLS layer then copies them into a fresh allocation of its own, new
 * memory the kernel must map on every write; Node's stream also keeps bookkeeping per
 * buffer (a server's ~1 MiB of answers is 128 frame headers and blocks). One buffer per
 * write is encrypted where it lies. Memory is bounded by the caller's backpressure
 * (`queued`) plus MAX_FREE_SLABS kept for reuse per WriteSlabs.
 */
import { RokError } from '../../../../protocol/errors.ts'
import { P2PErrorCode } from '../../errors.ts'
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

const SLAB_BYTES = 2 * 1024 * 1024
/**
 * Written slabs kept for the next writes; more are left to the collector. A busy socket's
 * outbox holds up to its write buffer (8 MiB) plus a flush: with 4 kept, a 1 GiB serve
 * dropped and allocated 35 slabs (70 MB of new memory, and V8 starts a full collection
 * after every ~64 MB of it); with 8 it allocates 6 and reuses them.
 */
const MAX_FREE_SLABS = 8

/** Free slabs, shared by the writers of one data channel server (see MAX_FREE_SLABS). */
export class WriteSlabs {
  private readonly free: Buffer[] = []
  /** Slabs ever allocated (tests). */
  allocated = 0

  take (): Buffer {
    const slab = this.free.pop()
    if (slab !== undefined) return slab
    this.allocated++
    // never zero-filled: only the bytes copied in are written
    return Buffer.allocUnsafeSlow(SLAB_BYTES)
  }

  give (slab: Buffer): void {
    if (this.free.length < MAX_FREE_SLABS) this.free.push(slab)
  }
}

export class SocketWriter {
  private readonly socket: Socket
  /** Slabs waiting for the socket, in order; only the last one is still being filled. */
  private readonly outbox: Buffer[] = []
  /** Bytes used in the outbox's last slab. */
  private filled = 0
  private readonly slabs: WriteSlabs
  private writing = false
  /** The error of a write that failed: what was queued behind it is dropped. */
  private failed: Error | undefined
  private bytes = 0
  private readonly waiters = new Set<() => void>()

  constructor (socket: Socket, slabs = new WriteSlabs()) {
    this.socket = socket
    this.slabs = slabs
  }

  /** Bytes sent and not yet taken by the socket (in the outbox or in the write under way). */
  get queued (): number {
    return this.bytes
  }

  write (data: Uint8Array | Uint8ArrayList): void {
    // after a failed write nothing more can go out in order: the socket is ending
    if (data.byteLength === 0 || this.failed !== undefined) return
    if (!this.writing && this.outbox.length === 0 && data instanceof Uint8Array) {
      // nothing ahead of it: written as it is, no copy
      this.bytes += data.byteLength
      this.writeOut(data, undefined)
      return
    }
    if (data instanceof Uint8Array) this.append(data)
    else for (const piece of data) this.append(piece)
    if (!this.writing) this.next()
  }

  /** Resolves once `queued` is under `limit`; rejects when the socket closes first or `signal` aborts. */
  async below (limit: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    for (;;) {
      if (this.failed !== undefined) throw new RokError(P2PErrorCode.PEER_GONE, 'data channel failed with unwritten data', { cause: this.failed })
      if (this.bytes < limit) return
      if (this.socket.destroyed) throw new RokError(P2PErrorCode.PEER_GONE, 'data channel closed with unwritten data')
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          this.waiters.delete(onWritten)
          this.socket.off('close', onClose)
          signal?.removeEventListener('abort', onAbort)
          if (err === undefined) resolve()
          else reject(err)
        }
        const onWritten = (): void => { done() }
        const onClose = (): void => { done(new RokError(P2PErrorCode.PEER_GONE, 'data channel closed with unwritten data')) }
        const onAbort = (): void => { done(signal?.reason as Error) }
        this.waiters.add(onWritten)
        this.socket.once('close', onClose)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  private append (piece: Uint8Array): void {
    this.bytes += piece.byteLength
    let at = 0
    while (at < piece.byteLength) {
      let slab = this.outbox.at(-1)
      if (slab === undefined || this.filled === slab.byteLength) {
        slab = this.slabs.take()
        this.outbox.push(slab)
        this.filled = 0
      }
      const n = Math.min(piece.byteLength - at, slab.byteLength - this.filled)
      slab.set(at === 0 && n === piece.byteLength ? piece : piece.subarray(at, at + n), this.filled)
      this.filled += n
      at += n
    }
  }

  /** The outbox's first slab into the socket. */
  private next (): void {
    const slab = this.outbox.shift()
    if (slab === undefined) return
    const n = this.outbox.length === 0 ? this.filled : slab.byteLength
    if (this.outbox.length === 0) this.filled = 0
    this.writeOut(slab.subarray(0, n), slab)
  }

  private writeOut (bytes: Uint8Array, slab: Buffer | undefined): void {
    this.writing = true
    // the callback runs once the socket has taken the bytes (TLS has encrypted them): the slab is free again
    this.socket.write(bytes, (err) => {
      this.writing = false
      this.bytes -= bytes.byteLength
      if (err != null) {
        this.failed = err
        this.outbox.length = 0
        this.bytes = 0
      } else {
        if (slab !== undefined) this.slabs.give(slab)
        this.next()
      }
      for (const waiter of [...this.waiters]) waiter()
    })
  }
}
