/**
 * Writes to a data-channel socket one buffer at a time. What is sent while a write is in
 * the socket waits in the outbox: small pieces copied into reused 2 MiB slabs, large ones
 * (RUN frames' blocks, read from disk) as they are, until the write ahead of them completes.
 * Why one buffer per write: a Node socket handed several buffers before the last write
 * finished passes them to `writev`, and its TLS layer then copies them into a fresh
 * allocation of its own, new memory the kernel must map on every write; Node's stream
 * also keeps bookkeeping per buffer (a server's ~1 MiB of answers is 128 frame headers
 * and blocks). One buffer per write is encrypted where it lies. Memory is bounded by the
 * caller's backpressure (`queued`) plus MAX_FREE_SLABS kept for reuse per WriteSlabs.
 */
import { RokError } from '../../../../protocol/errors.ts'
import { P2PErrorCode } from '../../errors.ts'
import type { Socket } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

const SLAB_BYTES = 2 * 1024 * 1024
/**
 * Written slabs kept for the next writes; more are left to the collector. When runs of
 * blocks were copied too, a busy socket's outbox held up to its write buffer (8 MiB) plus a
 * flush: with 4 kept, a 1 GiB serve dropped and allocated 35 slabs (70 MB of new memory, and
 * V8 starts a full collection after every ~64 MB of it). With runs written where they lie, a
 * 1 GiB serve allocated one.
 */
const MAX_FREE_SLABS = 8
/**
 * Pieces this large are written where they lie rather than copied into a slab, at the cost
 * of a socket write of their own. Copying the ~1 MiB runs of blocks a server sends took
 * 0.12-0.15 s of its event loop per GiB.
 */
const BY_REFERENCE_BYTES = 128 * 1024

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

/** A slab small pieces are copied into, back or behind large pieces. */
interface Slab {
  memory: Buffer
  /** Bytes copied in so far. */
  used: number
  /** Outbox entries in it, queued or being written: it is free again at 0. */
  entries: number
}

/** One socket write to come: a range of a slab's memory, or the whole of a caller's piece. */
interface Outgoing {
  memory: Uint8Array
  start: number
  end: number
  /** The slab `memory` belongs to, undefined for a caller's piece. */
  slab: Slab | undefined
  /** What callers asked to run once this write is done (writes complete in order, so everything before it is too). */
  release: (() => void) | undefined
}

export class SocketWriter {
  private readonly socket: Socket
  /** Writes to come, in order. */
  private readonly outbox: Outgoing[] = []
  /** The slab small pieces are copied into now. */
  private slab: Slab | undefined
  private readonly slabs: WriteSlabs
  private writing = false
  /** The entry in the socket now. */
  private current: Outgoing | undefined
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

  /**
   * Queues `data`. `release` runs once everything queued so far, `data` included, has been
   * written (or dropped by a failed socket): from then on none of the memory the caller
   * has sent is read, including large pieces of earlier calls.
   */
  write (data: Uint8Array | Uint8ArrayList, release?: () => void): void {
    // after a failed write nothing more can go out in order: the socket is ending
    if (this.failed !== undefined) {
      release?.()
      return
    }
    if (!this.writing && this.outbox.length === 0 && data instanceof Uint8Array && data.byteLength > 0) {
      // nothing ahead of it: written as it is, no copy
      this.bytes += data.byteLength
      this.writeOut({ memory: data, start: 0, end: data.byteLength, slab: undefined, release })
      return
    }
    for (const piece of data instanceof Uint8Array ? [data] : data) {
      if (piece.byteLength < BY_REFERENCE_BYTES) this.copy(piece)
      else {
        this.bytes += piece.byteLength
        this.outbox.push({ memory: piece, start: 0, end: piece.byteLength, slab: undefined, release: undefined })
      }
    }
    if (release !== undefined) {
      // with the last write to come (writes complete in order), or now if there is none
      const last = this.outbox.at(-1) ?? this.current
      if (last === undefined) release()
      else {
        const before = last.release
        last.release = before === undefined ? release : () => { before(); release() }
      }
    }
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

  /** Into the current slab, extending the outbox's last entry when it ends where the copy starts. */
  private copy (piece: Uint8Array): void {
    this.bytes += piece.byteLength
    let at = 0
    while (at < piece.byteLength) {
      let slab = this.slab
      if (slab === undefined || slab.used === slab.memory.byteLength) {
        slab = this.slab = { memory: this.slabs.take(), used: 0, entries: 0 }
      }
      let last = this.outbox.at(-1)
      if (last === undefined || last.slab !== slab || last.end !== slab.used) {
        last = { memory: slab.memory, start: slab.used, end: slab.used, slab, release: undefined }
        slab.entries++
        this.outbox.push(last)
      }
      const n = Math.min(piece.byteLength - at, slab.memory.byteLength - slab.used)
      slab.memory.set(at === 0 && n === piece.byteLength ? piece : piece.subarray(at, at + n), slab.used)
      slab.used += n
      last.end = slab.used
      at += n
    }
  }

  /** The outbox's first entry into the socket. */
  private next (): void {
    const entry = this.outbox.shift()
    if (entry !== undefined) this.writeOut(entry)
  }

  private writeOut (entry: Outgoing): void {
    this.writing = true
    this.current = entry
    const bytes = entry.slab === undefined ? entry.memory : entry.memory.subarray(entry.start, entry.end)
    // the callback runs once the socket has taken the bytes (TLS has encrypted them): their memory is free again
    this.socket.write(bytes, (err) => {
      this.writing = false
      this.current = undefined
      this.bytes -= bytes.byteLength
      this.written(entry)
      if (err != null) {
        this.failed = err
        for (const dropped of this.outbox.splice(0)) dropped.release?.()
        this.bytes = 0
      } else {
        this.next()
      }
      for (const waiter of [...this.waiters]) waiter()
    })
  }

  private written (entry: Outgoing): void {
    entry.release?.()
    const slab = entry.slab
    if (slab === undefined || --slab.entries > 0) return
    // nothing queued reads it: the current slab starts over, an older one goes back
    if (slab === this.slab) slab.used = 0
    else this.slabs.give(slab.memory)
  }
}
