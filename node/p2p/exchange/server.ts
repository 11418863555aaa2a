/**
 * One inbound exchange stream: holds the peer's pending wants (bounded), serves them a
 * few at a time from the store, and answers every want exactly once (BLOCK, HAVE or
 * DONT_HAVE) unless it was cancelled first. Message routing is in `onMessage`; each
 * message type's handling is in handlers/.
 */
import {
  encodeBlockHeader, encodeDontHave, encodeHave, encodeRunHeader, MAX_BLOCK_BYTES, MAX_CIDS_PER_MESSAGE, MAX_FRAME_BODY_BYTES, RUN_ENTRY_FIXED, type ExchangeMessage, type WantEntry
} from '../../../protocol/exchange.ts'
import { readU32 } from '../../../protocol/small-bytes.ts'
import { isRokError, RokError } from '../../../protocol/errors.ts'
import { StoreErrorCode } from '../../store/errors.ts'
import { P2PErrorCode } from '../errors.ts'
import { cidKey, type CID } from '../../../protocol/cid.ts'
import { handleCancel } from './handlers/cancel.ts'
import { handleWant } from './handlers/want.ts'
import { readFrames, type ExchangeStream, type FrameReader } from './stream-frames.ts'
import type { UploadLimit } from './upload-limit.ts'
import type { RunBuffers } from './run-buffers.ts'
import { Uint8ArrayList } from 'uint8arraylist'
import type { AuthorizeFn, ServeStats } from './index.ts'
import type { BlockStore } from '../../store/types.ts'
import type { Logger, PeerId } from '@libp2p/interface'

/** Queued outgoing bytes that are written at once rather than at the end of the turn. */
const COALESCE_BYTES = 1024 * 1024
/**
 * Wants served together as one run: one authorization pass and one `getMany` (one index
 * round-trip, neighbouring blocks read in one go). A run holds about RUN_BYTES of blocks,
 * judged by the sizes served so far, and at most RUN_MAX_WANTS wants.
 */
const RUN_BYTES = 1024 * 1024
const RUN_MAX_WANTS = 128
/**
 * Largest RUN frame under an upload cap: what one stream books ahead of the cap at a
 * time stays short, so every stream's wait does.
 */
const CAPPED_RUN_BYTES = 256 * 1024

export interface ServerStreamOptions {
  store: Pick<BlockStore, 'get' | 'has' | 'getMany' | 'getManyUnverified'>
  authorize: AuthorizeFn
  maxPendingWants: number
  concurrency: number
  wantTimeout: number
  idleTimeout: number
  stats: ServeStats
  /** Counts this stream's blocks and bytes again when it is a data channel socket. */
  channelStats?: { blocks: number, bytes: number }
  /** The node's upload cap, shared by every stream it serves; undefined for none. */
  uploadLimit: UploadLimit | undefined
  /** Memory runs are read into and used again once written, on streams that say when (`sendThenRelease`). */
  runBuffers: RunBuffers
  log: Logger
}

export class ServerStream {
  readonly peer: PeerId
  private readonly stream: ExchangeStream
  private readonly options: ServerStreamOptions
  /** Pending wants in arrival order; a cancelled want becomes `undefined` in place. */
  private readonly queue: Array<WantEntry | undefined> = []
  private head = 0
  private cancelledCount = 0
  /** Runs being served, and the wants in them. */
  private active = 0
  private activeWants = 0
  /** Blocks and bytes served on this stream, for sizing runs. */
  private servedBlocks = 0
  private servedBytes = 0
  private draining = false
  /** Buffers of runs whose blocks are all queued; released once the queue has been sent. */
  private sentRunBuffers: ArrayBuffer[] = []
  private remoteDone = false
  private closed = false
  private idleTimer: NodeJS.Timeout | undefined
  private outgoing = new Uint8ArrayList()
  private deadline: AbortSignal | undefined
  private deadlineCreated = 0
  private pendingHave: CID[] = []
  private pendingDontHave: CID[] = []
  private flushScheduled = false
  private readonly reader: FrameReader
  /** Aborted when the stream ends: wakes serves waiting for upload tokens. */
  private readonly ended = new AbortController()
  /**
   * One block of this stream waits for the upload cap at a time, so what the node has
   * booked ahead is at most a block per stream and every stream's wait stays short.
   */
  private capTurn: Promise<void> = Promise.resolve()
  private readonly done: PromiseWithResolvers<void> = Promise.withResolvers()

  constructor (stream: ExchangeStream, peer: PeerId, options: ServerStreamOptions) {
    this.stream = stream
    this.peer = peer
    this.options = options
    this.reader = readFrames(stream, {
      onMessage: (message) => { this.onMessage(message) },
      onInvalid: (err) => { this.fail(err) },
      onEnd: (err) => {
        if (err !== undefined) this.fail(err)
        else { this.remoteDone = true; this.maybeFinish() }
      }
    })
    this.touch()
  }

  /** Resolves when the stream is finished or failed; never rejects. */
  get finished (): Promise<void> {
    return this.done.promise
  }

  /** Wants queued and being served. */
  get pendingWants (): number {
    return this.queue.length - this.head - this.cancelledCount + this.activeWants
  }

  private onMessage (message: ExchangeMessage): void {
    this.touch()
    switch (message.type) {
      case 'want': handleWant(this, message.entries); break
      case 'cancel': handleCancel(this, message.cids); break
      default:
        this.fail(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, `a client may not send '${message.type}' messages`))
    }
  }

  /** Queue wants; a peer that runs past the bound is a flooder and loses the stream. */
  enqueue (entries: WantEntry[]): void {
    if (this.closed) return
    if (this.pendingWants + entries.length > this.options.maxPendingWants) {
      this.fail(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, `peer has more than ${this.options.maxPendingWants} wants pending`))
      return
    }
    for (const entry of entries) this.queue.push(entry)
    this.pump()
  }

  private pump (): void {
    while (!this.closed && !this.draining && this.active < this.options.concurrency && this.head < this.queue.length) {
      const run = this.nextRun()
      if (run.length === 0) continue
      this.active++
      this.activeWants += run.length
      this.serveRun(run).then(() => {
        this.active--
        this.activeWants -= run.length
        this.pump()
        this.maybeFinish()
      }, (err: Error) => {
        this.active--
        this.activeWants -= run.length
        this.fail(err)
      })
    }
  }

  /** The next queued wants, skipping cancelled ones, about RUN_BYTES of blocks. */
  private nextRun (): WantEntry[] {
    const average = this.servedBlocks === 0 ? RUN_BYTES : this.servedBytes / this.servedBlocks
    const max = Math.max(1, Math.min(RUN_MAX_WANTS, Math.floor(RUN_BYTES / average)))
    const run: WantEntry[] = []
    while (run.length < max && this.head < this.queue.length) {
      const entry = this.queue[this.head++]
      if (entry === undefined) this.cancelledCount--
      else run.push(entry)
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    return run
  }

  /** Forget queued wants for these CIDs; one pass over the (bounded) queue. */
  cancel (cids: CID[]): void {
    const keys = new Set(cids.map(cid => cidKey(cid.bytes)))
    for (let i = this.head; i < this.queue.length; i++) {
      const entry = this.queue[i]
      if (entry !== undefined && keys.has(cidKey(entry.cid.bytes))) {
        this.queue[i] = undefined
        this.cancelledCount++
      }
    }
    this.maybeFinish()
  }

  /**
   * Deadline signal shared by the wants that start within the same second: one timer per
   * second instead of one per want (a 64 KiB chunk is served in microseconds). A want gets
   * between wantTimeout - 1 s and wantTimeout.
   */
  private wantSignal (): AbortSignal {
    const now = Date.now()
    if (this.deadline === undefined || now - this.deadlineCreated > 1000) {
      this.deadline = AbortSignal.timeout(this.options.wantTimeout)
      this.deadlineCreated = now
    }
    return this.deadline
  }

  /** Authorize a run, read what may be served, and queue the answers in order. */
  private async serveRun (run: WantEntry[]): Promise<void> {
    const signal = this.wantSignal()
    const allowed = await this.authorizeRun(run, signal)
    if (this.closed) return
    const wanted: CID[] = []
    for (let i = 0; i < run.length; i++) {
      const entry = run[i]
      if (!allowed[i]) {
        this.options.stats.refused++
        this.answer(entry.cid, false)
      } else if (entry.kind === 'have') {
        this.answer(entry.cid, await this.options.store.has(entry.cid, { signal }))
      } else {
        wanted.push(entry.cid)
      }
    }
    if (wanted.length === 0 || this.closed) return
    // the buffers this run is read into: free again once its blocks have been copied out
    const held: ArrayBuffer[] = []
    const blocks = await this.read(wanted, signal, held)
    for (let i = 0; i < wanted.length;) {
      const bytes = blocks[i]
      if (this.closed) return
      // a block the wire cannot carry: say so instead of breaking the stream
      if (bytes === undefined || bytes.byteLength > MAX_BLOCK_BYTES) {
        this.answer(wanted[i], false)
        i++
        continue
      }
      const end = runEnd(wanted, blocks, i, this.options.uploadLimit === undefined ? MAX_FRAME_BODY_BYTES : CAPPED_RUN_BYTES)
      const last = blocks[end - 1] as Uint8Array
      const first = end - i === 1 ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset - entryHeaderLength(wanted[i]), last.byteOffset + last.byteLength - bytes.byteOffset + entryHeaderLength(wanted[i]))
      const limit = this.options.uploadLimit
      if (limit !== undefined) {
        // not under the want deadline: waiting for the cap is the node's choice, not a slow store
        const turn = this.capTurn.then(async () => { await limit.take(first.byteLength, this.ended.signal) })
        this.capTurn = turn.catch(() => {})
        await turn
        if (this.closed) return
      }
      // header and bytes are queued as they are (no copy) and leave with their neighbours
      if (end - i === 1) this.queueOut(encodeBlockHeader(wanted[i], bytes.byteLength), bytes)
      else {
        this.queueOut(encodeRunHeader(first.byteLength), first)
        this.options.stats.runBlocks += end - i
      }
      for (; i < end; i++) this.served((blocks[i] as Uint8Array).byteLength)
    }
    for (const buffer of held) this.sentRunBuffers.push(buffer)
  }

  private served (bytes: number): void {
    this.servedBlocks++
    this.servedBytes += bytes
    this.options.stats.blocks++
    this.options.stats.bytes += bytes
    if (this.options.channelStats !== undefined) {
      this.options.channelStats.blocks++
      this.options.channelStats.bytes += bytes
    }
  }

  /**
   * The hook's answer for each want of a run. A hook that answers at once (a boolean, as
   * an allow-all or in-memory list does) costs no promise per block; answers still
   * pending are awaited together under the want deadline, and a want whose answer fails
   * or is not there by then is refused (the others keep theirs).
   */
  private async authorizeRun (run: WantEntry[], signal: AbortSignal): Promise<boolean[]> {
    const allowed: boolean[] = []
    let pending: Array<Promise<void>> | undefined
    for (let i = 0; i < run.length; i++) {
      const cid = run[i].cid
      let answer: boolean | Promise<boolean>
      try {
        answer = this.options.authorize(this.peer, cid)
      } catch (err) {
        this.refusedByHook(cid, err)
        answer = false
      }
      if (typeof answer === 'boolean') {
        allowed.push(answer)
        continue
      }
      allowed.push(false)
      ;(pending ??= []).push(Promise.resolve(answer).then(ok => { allowed[i] = ok === true }, (err) => { this.refusedByHook(cid, err) }))
    }
    if (pending === undefined) return allowed
    try {
      await raceSignal(Promise.all(pending), signal)
    } catch (err) {
      this.options.log.error('authorize for %p: wants still unanswered at their deadline are refused: %e', this.peer, err)
    }
    // answers arriving after the deadline change nothing
    return allowed.slice()
  }

  private refusedByHook (cid: CID, err: unknown): void {
    this.options.log.error('authorize %s for %p failed: %e', cid, this.peer, err)
  }

  /**
   * The blocks' bytes, undefined for those the store lacks. One `getMany` when the store
   * has it; when a block is missing from the run, each is read alone to tell which.
   *
   * A run is read without the store's hash check when the store offers that
   * (`getManyUnverified`): the fetching side checks every block against its CID before it
   * stores it (fetch.ts), so hashing it here too doubled the work of every transfer on the
   * serving node, its largest single cost with a disk store. What a block rotten on this
   * disk now costs: the fetching peer drops this node from that fetch and gets the block
   * elsewhere (as it did when the failed check here closed the stream), and `rok verify`
   * is what finds the rot on this side. Kubo serves the same way (`HashOnRead` is off by
   * default).
   */
  private async read (cids: CID[], signal: AbortSignal, held: ArrayBuffer[]): Promise<Array<Uint8Array | undefined>> {
    const { store } = this.options
    if (store.getMany !== undefined && cids.length > 1) {
      try {
        if (store.getManyUnverified !== undefined) {
          // into recycled memory when this stream says once it no longer reads what it was sent
          const runBuffers = this.options.runBuffers
          const allocate = this.stream.sendThenRelease !== undefined ? (n: number) => runBuffers.allocate(n, held) : undefined
          // a peer asks in the order blocks were stored: the packs just read tell where the next ones are
          // with their entry headers: blocks stored together then leave as one RUN frame, as they lie
          return await store.getManyUnverified(cids, { signal, allocate, pageAligned: allocate !== undefined, packTables: true, entryHeaders: true })
        }
        return await store.getMany(cids, { signal })
      } catch (err) {
        if (!isRokError(err, StoreErrorCode.BLOCK_NOT_FOUND)) throw err
      }
    }
    return await Promise.all(cids.map(async cid => {
      try {
        return await store.get(cid, { signal })
      } catch (err) {
        if (isRokError(err, StoreErrorCode.BLOCK_NOT_FOUND)) return undefined
        throw err
      }
    }))
  }

  /** HAVE/DONT_HAVE answers are gathered into one message per event-loop turn. */
  private answer (cid: CID, have: boolean): void {
    (have ? this.pendingHave : this.pendingDontHave).push(cid)
    this.scheduleFlush()
  }

  /**
   * Outgoing messages are gathered and written together once per event-loop turn, or
   * sooner when COALESCE_BYTES are waiting: one muxer frame and one socket write carry
   * many 64 KiB chunks instead of one each.
   */
  private queueOut (...parts: Uint8Array[]): void {
    for (const part of parts) this.outgoing.append(part)
    if (this.outgoing.byteLength >= COALESCE_BYTES) this.flushOut()
    else this.scheduleFlush()
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.flushOut()
      this.maybeFinish()
    })
  }

  private flushOut (): void {
    if (this.closed) return
    for (const [list, encode] of [[this.pendingHave, encodeHave], [this.pendingDontHave, encodeDontHave]] as const) {
      for (let i = 0; i < list.length; i += MAX_CIDS_PER_MESSAGE) {
        this.outgoing.append(encode(list.slice(i, i + MAX_CIDS_PER_MESSAGE)))
      }
    }
    this.pendingHave = []
    this.pendingDontHave = []
    if (this.outgoing.byteLength === 0) return
    const out = this.outgoing
    this.outgoing = new Uint8ArrayList()
    // the runs queued so far are all in `out` or sent before it: their buffers are free once it is written
    const runs = this.sentRunBuffers
    this.sentRunBuffers = []
    this.send(out, runs.length === 0 ? undefined : () => { this.options.runBuffers.release(runs) })
  }

  private send (bytes: Uint8Array | Uint8ArrayList, release?: () => void): void {
    // the peer may have reset its stream since this was queued: writing then would throw out of a timer and end the node
    if (this.stream.writeStatus !== 'writable') {
      this.fail(new RokError(P2PErrorCode.PEER_GONE, 'the peer closed the exchange stream before its answers were sent'))
      return
    }
    this.touch()
    const stream = this.stream
    const room = release !== undefined && stream.sendThenRelease !== undefined ? stream.sendThenRelease(bytes, release) : stream.send(bytes)
    if (room || this.draining) return
    // the stream's write buffer is full: serve nothing more until the peer has read it
    this.draining = true
    this.stream.onDrain({ signal: AbortSignal.timeout(this.options.idleTimeout) }).then(() => {
      this.draining = false
      this.pump()
      this.maybeFinish()
    }, () => {
      this.fail(new RokError(P2PErrorCode.TIMEOUT, `peer did not read for ${this.options.idleTimeout} ms`))
    })
  }

  private touch (): void {
    if (this.closed) return
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh()
      return
    }
    this.idleTimer = setTimeout(() => {
      this.fail(new RokError(P2PErrorCode.TIMEOUT, `exchange stream idle for ${this.options.idleTimeout} ms`))
    }, this.options.idleTimeout)
  }

  /** The client closed its side and every want is answered: close ours. */
  private maybeFinish (): void {
    if (this.closed || !this.remoteDone || this.pendingWants > 0 || this.flushScheduled || this.draining) return
    this.closed = true
    this.cleanup()
    this.stream.close({ signal: AbortSignal.timeout(this.options.idleTimeout) }).catch((err: Error) => {
      this.stream.abort(err)
    }).finally(() => { this.done.resolve() })
  }

  fail (err: Error): void {
    if (this.closed) return
    this.closed = true
    this.options.stats.rejectedStreams++
    this.options.log('closing exchange stream from %p: %s', this.peer, err.message)
    this.cleanup()
    this.stream.abort(err)
    this.done.resolve()
  }

  private cleanup (): void {
    clearTimeout(this.idleTimer)
    this.ended.abort(new RokError(P2PErrorCode.PEER_GONE, 'exchange stream ended'))
    this.reader.detach()
    this.queue.length = 0
    this.head = 0
    this.cancelledCount = 0
    this.outgoing = new Uint8ArrayList()
  }
}

/**
 * Where the RUN starting at block `from` ends (exclusive): the blocks after it that lie
 * right behind it in the same memory, each behind its own pack entry header (see
 * ReadIntoOptions.entryHeaders), up to `maxBytes` of entries. `from + 1` when the block
 * has no header in front of it: it goes as a BLOCK.
 */
function runEnd (cids: CID[], blocks: Array<Uint8Array | undefined>, from: number, maxBytes: number): number {
  const first = blocks[from] as Uint8Array
  const memory = new Uint8Array(first.buffer)
  if (!headerInFront(memory, cids[from], first)) return from + 1
  // the frame body is the type byte and the entries
  let size = 1 + entryHeaderLength(cids[from]) + first.byteLength
  let prev = first
  let end = from + 1
  for (; end < blocks.length && end - from < MAX_CIDS_PER_MESSAGE; end++) {
    const next = blocks[end]
    if (next === undefined || next.buffer !== prev.buffer || next.byteLength > MAX_BLOCK_BYTES) break
    const header = entryHeaderLength(cids[end])
    if (next.byteOffset !== prev.byteOffset + prev.byteLength + header || size + header + next.byteLength > maxBytes) break
    if (!headerInFront(memory, cids[end], next)) break
    size += header + next.byteLength
    prev = next
  }
  return end
}

function entryHeaderLength (cid: CID): number {
  return RUN_ENTRY_FIXED + cid.bytes.byteLength
}

/** True when the bytes in front of `block` in `memory` are its entry header: its length and CID. */
function headerInFront (memory: Uint8Array, cid: CID, block: Uint8Array): boolean {
  const cidBytes = cid.bytes
  const at = block.byteOffset - RUN_ENTRY_FIXED - cidBytes.byteLength
  if (at < 0 || readU32(memory, at) !== block.byteLength || memory[at + 4] !== cidBytes.byteLength) return false
  for (let i = cidBytes.byteLength - 1; i >= 0; i--) if (memory[at + RUN_ENTRY_FIXED + i] !== cidBytes[i]) return false
  return true
}

async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw new RokError(P2PErrorCode.TIMEOUT, 'want deadline passed')
  const { promise: aborted, reject } = Promise.withResolvers<never>()
  const onAbort = (): void => { reject(new RokError(P2PErrorCode.TIMEOUT, 'want deadline passed')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
