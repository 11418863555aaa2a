/**
 * The chunk exchange wire format, protocol id `/rok/exchange/1.1.0`.
 *
 * A stream carries frames in both directions. Every frame is a 4-byte big-endian body
 * length followed by the body; the body's first byte is the message type:
 *
 *   WANT      0x01  u16 count, count × (u8 flags, u8 cidLength, cid)   flags bit0: have-only
 *   CANCEL    0x02  u16 count, count × (u8 cidLength, cid)
 *   HAVE      0x03  u16 count, count × (u8 cidLength, cid)
 *   DONT_HAVE 0x04  u16 count, count × (u8 cidLength, cid)
 *   BLOCK     0x05  u8 cidLength, cid, block bytes (the rest of the body)
 *   RUN       0x06  1..MAX_CIDS_PER_MESSAGE × (u32 length, u8 cidLength, cid, length bytes)
 *
 * The client sends WANT and CANCEL; the server answers every want it does not see
 * cancelled with exactly one BLOCK, HAVE or DONT_HAVE, or one entry of a RUN, so the
 * client can count what is in flight. A block travels whole in one frame (large frames
 * keep per-byte overhead low). A RUN's entries are laid out as a pack file's
 * (node/store/pack-format.ts): a server sends blocks it stored together as they lie in
 * its read buffer, with one frame header instead of one per block (1.1.0 added RUN).
 * Every size is bounded; a frame that breaks a bound or the grammar is an
 * ERR_INVALID_MESSAGE and the receiver closes the stream. Pure: no I/O.
 */
import { cidFromBytes, isRokCidAt, rokCidAt, type CID } from './cid.ts'
import { copyBytes } from './copy-bytes.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'
import { readU32, smallBytes, writeU32 } from './small-bytes.ts'

export const EXCHANGE_PROTOCOL = '/rok/exchange/1.1.0'

/** Largest block (chunk or manifest node) the exchange carries. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** Largest CID accepted on the wire (a CIDv1 sha2-256 is 36 bytes). */
export const MAX_CID_BYTES = 64
/** Most CIDs in one WANT, CANCEL, HAVE or DONT_HAVE message. */
export const MAX_CIDS_PER_MESSAGE = 1024
/** Frame header: u32 body length. */
export const FRAME_HEADER_BYTES = 4
/** Largest body: a BLOCK of the largest block (type + cid length + cid + bytes). */
export const MAX_FRAME_BODY_BYTES = 2 + MAX_CID_BYTES + MAX_BLOCK_BYTES
/** A RUN entry's fixed header: u32 length, u8 cid length (the CID follows). */
export const RUN_ENTRY_FIXED = 5

export const MessageType = {
  WANT: 0x01,
  CANCEL: 0x02,
  HAVE: 0x03,
  DONT_HAVE: 0x04,
  BLOCK: 0x05,
  RUN: 0x06
} as const

export type WantKind = 'block' | 'have'

export interface WantEntry {
  cid: CID
  /** 'block' asks for the bytes; 'have' only asks whether the peer would serve them. */
  kind: WantKind
}

export type ExchangeMessage =
  | { type: 'want', entries: WantEntry[] }
  | { type: 'cancel', cids: CID[] }
  | { type: 'have', cids: CID[] }
  | { type: 'dont-have', cids: CID[] }
  /**
   * A block carries its CID as bytes: the receiver matches them against what it asked
   * for and verifies the block against its own CID object, so it never has to build one
   * per block. The bytes are checked to be a well-formed Rok CID on decode.
   */
  | { type: 'block', cidBytes: Uint8Array, bytes: Uint8Array }
  /**
   * Blocks in one frame: `body` is the whole frame body, checked against the grammar on
   * decode; `forEachRunEntry` walks it without an object per entry.
   */
  | { type: 'run', body: Uint8Array, count: number }

function invalid (message: string): RokError {
  return new RokError(ProtocolErrorCode.INVALID_MESSAGE, message)
}

function frame (body: Uint8Array): Uint8Array {
  const out = smallBytes(FRAME_HEADER_BYTES + body.byteLength)
  writeU32(out, 0, body.byteLength)
  out.set(body, FRAME_HEADER_BYTES)
  return out
}

function checkCount (count: number): void {
  if (count < 1 || count > MAX_CIDS_PER_MESSAGE) {
    throw invalid(`a message carries 1..${MAX_CIDS_PER_MESSAGE} CIDs, not ${count}`)
  }
}

function encodeList (type: number, cids: CID[], flags?: (i: number) => number): Uint8Array {
  checkCount(cids.length)
  const perEntry = flags === undefined ? 1 : 2
  let size = 3
  for (const cid of cids) size += perEntry + cid.bytes.byteLength
  const body = new Uint8Array(size)
  body[0] = type
  body[1] = cids.length >> 8
  body[2] = cids.length & 0xff
  let at = 3
  for (let i = 0; i < cids.length; i++) {
    const bytes = cids[i].bytes
    if (bytes.byteLength > MAX_CID_BYTES) throw invalid('CID too long')
    if (flags !== undefined) body[at++] = flags(i)
    body[at++] = bytes.byteLength
    body.set(bytes, at)
    at += bytes.byteLength
  }
  return frame(body)
}

export function encodeWant (entries: WantEntry[]): Uint8Array {
  return encodeList(MessageType.WANT, entries.map(e => e.cid), i => entries[i].kind === 'have' ? 1 : 0)
}

export function encodeCancel (cids: CID[]): Uint8Array {
  return encodeList(MessageType.CANCEL, cids)
}

export function encodeHave (cids: CID[]): Uint8Array {
  return encodeList(MessageType.HAVE, cids)
}

export function encodeDontHave (cids: CID[]): Uint8Array {
  return encodeList(MessageType.DONT_HAVE, cids)
}

/**
 * The frame header, message type and CID of a BLOCK message, without the block bytes.
 * The sender writes the header and then the bytes as they are, so a block is never
 * copied into a new buffer just to be framed.
 */
export function encodeBlockHeader (cid: CID, blockLength: number): Uint8Array {
  if (blockLength > MAX_BLOCK_BYTES) throw invalid(`block of ${blockLength} bytes exceeds ${MAX_BLOCK_BYTES}`)
  const cidBytes = cid.bytes
  if (cidBytes.byteLength > MAX_CID_BYTES) throw invalid('CID too long')
  // one per block served: from a shared slab, not an allocation of its own (small-bytes.ts)
  const out = smallBytes(FRAME_HEADER_BYTES + 2 + cidBytes.byteLength)
  writeU32(out, 0, 2 + cidBytes.byteLength + blockLength)
  out[4] = MessageType.BLOCK
  out[5] = cidBytes.byteLength
  out.set(cidBytes, 6)
  return out
}

/** A whole BLOCK frame in one buffer (tests and small blocks). */
export function encodeBlock (cid: CID, bytes: Uint8Array): Uint8Array {
  const header = encodeBlockHeader(cid, bytes.byteLength)
  const out = new Uint8Array(header.byteLength + bytes.byteLength)
  out.set(header)
  out.set(bytes, header.byteLength)
  return out
}

/**
 * A RUN frame's header: the frame length and type byte, followed on the wire by
 * `entriesLength` bytes of entries (as a pack holds them) that the sender writes as
 * they are.
 */
export function encodeRunHeader (entriesLength: number): Uint8Array {
  if (entriesLength < 1 || entriesLength + 1 > MAX_FRAME_BODY_BYTES) throw invalid(`a run of ${entriesLength} bytes is outside 1..${MAX_FRAME_BODY_BYTES - 1}`)
  const out = smallBytes(FRAME_HEADER_BYTES + 1)
  writeU32(out, 0, entriesLength + 1)
  out[4] = MessageType.RUN
  return out
}

/** A whole RUN frame in one buffer (tests). */
export function encodeRun (blocks: Array<[CID, Uint8Array]>): Uint8Array {
  let size = 0
  for (const [cid, bytes] of blocks) size += RUN_ENTRY_FIXED + cid.bytes.byteLength + bytes.byteLength
  const out = new Uint8Array(FRAME_HEADER_BYTES + 1 + size)
  out.set(encodeRunHeader(size))
  let at = FRAME_HEADER_BYTES + 1
  for (const [cid, bytes] of blocks) {
    writeU32(out, at, bytes.byteLength)
    out[at + 4] = cid.bytes.byteLength
    out.set(cid.bytes, at + RUN_ENTRY_FIXED)
    out.set(bytes, at + RUN_ENTRY_FIXED + cid.bytes.byteLength)
    at += RUN_ENTRY_FIXED + cid.bytes.byteLength + bytes.byteLength
  }
  return out
}

/**
 * Calls `each` with every entry of a decoded RUN body, in order, until it returns false.
 * Both arrays are views into `body`.
 */
export function forEachRunEntry (body: Uint8Array, each: (cidBytes: Uint8Array, bytes: Uint8Array) => boolean): void {
  for (let at = 1; at < body.byteLength;) {
    const length = readU32(body, at)
    const cidEnd = at + RUN_ENTRY_FIXED + body[at + 4]
    if (!each(body.subarray(at + RUN_ENTRY_FIXED, cidEnd), body.subarray(cidEnd, cidEnd + length))) return
    at = cidEnd + length
  }
}

/** The number of entries in a RUN body; throws unless every entry keeps the grammar. */
function checkRun (body: Uint8Array): number {
  let count = 0
  let at = 1
  while (at < body.byteLength) {
    if (at + RUN_ENTRY_FIXED > body.byteLength) throw invalid('truncated run entry')
    const length = readU32(body, at)
    if (length > MAX_BLOCK_BYTES) throw invalid(`run entry of ${length} bytes exceeds ${MAX_BLOCK_BYTES}`)
    const cidEnd = checkCidAt(body, at + 4)
    if (cidEnd + length > body.byteLength) throw invalid('truncated run entry')
    at = cidEnd + length
    if (++count > MAX_CIDS_PER_MESSAGE) throw invalid(`a run carries at most ${MAX_CIDS_PER_MESSAGE} blocks`)
  }
  if (count === 0) throw invalid('empty run')
  return count
}

export function encodeMessage (message: ExchangeMessage): Uint8Array {
  switch (message.type) {
    case 'want': return encodeWant(message.entries)
    case 'cancel': return encodeCancel(message.cids)
    case 'have': return encodeHave(message.cids)
    case 'dont-have': return encodeDontHave(message.cids)
    case 'block': return encodeBlock(cidFromBytes(message.cidBytes), message.bytes)
    case 'run': return frame(message.body)
  }
}

/**
 * Checks the length-prefixed CID at `at` and returns where it ends. No view or CID is
 * made: a server decodes one per want, and a client one per block of a run.
 */
function checkCidAt (body: Uint8Array, at: number): number {
  if (at >= body.byteLength) throw invalid('truncated CID length')
  const length = body[at]
  if (length === 0 || length > MAX_CID_BYTES) throw invalid(`CID length ${length} out of bounds`)
  const end = at + 1 + length
  if (end > body.byteLength) throw invalid('truncated CID')
  if (!isRokCidAt(body, at + 1, length)) throw invalid('malformed CID in message')
  return end
}

function decodeList (body: Uint8Array, withFlags: boolean): { cids: CID[], flags: number[] } {
  if (body.byteLength < 3) throw invalid('truncated list message')
  const count = (body[1] << 8) | body[2]
  checkCount(count)
  const cids: CID[] = []
  const flags: number[] = []
  let at = 3
  for (let i = 0; i < count; i++) {
    if (withFlags) {
      if (at >= body.byteLength) throw invalid('truncated want entry')
      const f = body[at++]
      if ((f & ~1) !== 0) throw invalid(`unknown want flags ${f}`)
      flags.push(f)
    }
    const end = checkCidAt(body, at)
    cids.push(rokCidAt(body, at + 1))
    at = end
  }
  if (at !== body.byteLength) throw invalid('trailing bytes after list')
  return { cids, flags }
}

/** A frame header's body length; throws unless it is 1..MAX_FRAME_BODY_BYTES. */
function checkedLength (header: Uint8Array): number {
  const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0)
  if (length === 0 || length > MAX_FRAME_BODY_BYTES) {
    throw invalid(`frame of ${length} bytes is outside 1..${MAX_FRAME_BODY_BYTES}`)
  }
  return length
}

/** Decode one frame body (without its length header). Throws ERR_INVALID_MESSAGE. */
export function decodeBody (body: Uint8Array): ExchangeMessage {
  if (body.byteLength === 0) throw invalid('empty message')
  if (body.byteLength > MAX_FRAME_BODY_BYTES) throw invalid(`message of ${body.byteLength} bytes exceeds ${MAX_FRAME_BODY_BYTES}`)
  switch (body[0]) {
    case MessageType.WANT: {
      const { cids, flags } = decodeList(body, true)
      return { type: 'want', entries: cids.map((cid, i) => ({ cid, kind: flags[i] === 1 ? 'have' : 'block' })) }
    }
    case MessageType.CANCEL: return { type: 'cancel', cids: decodeList(body, false).cids }
    case MessageType.HAVE: return { type: 'have', cids: decodeList(body, false).cids }
    case MessageType.DONT_HAVE: return { type: 'dont-have', cids: decodeList(body, false).cids }
    case MessageType.BLOCK: {
      const at = checkCidAt(body, 1)
      return { type: 'block', cidBytes: body.subarray(2, at), bytes: body.subarray(at) }
    }
    case MessageType.RUN: return { type: 'run', body, count: checkRun(body) }
    default: throw invalid(`unknown message type ${body[0]}`)
  }
}

/**
 * Where a decoder puts BLOCK bodies when it may not keep the transport's pieces (a socket
 * read into one reused buffer). The receiver hands each block's bytes back when it is done
 * with them, so the same memory carries the next blocks.
 */
export interface BlockAllocator {
  /** `pageAt`: the allocator puts this byte of the memory on a page boundary if it can. */
  allocate: (n: number, pageAt?: number) => Uint8Array
  /**
   * `bytes` (one allocation) holds `count` blocks, a RUN's, each released on its own:
   * the memory is free again once all of them have been.
   */
  share?: (bytes: Uint8Array, count: number) => void
}

export interface FrameDecoderOptions {
  /**
   * Pieces pushed are only valid during `push`: every frame body is copied out of them as
   * it arrives, BLOCK bodies into memory from `blocksInto`, other bodies into their own
   * buffer (the CIDs decoded from them may be kept). Nothing else is allocated per block.
   */
  blocksInto?: BlockAllocator | undefined
}

/**
 * Splits a byte stream into frames. Feed it whatever pieces the transport delivers;
 * it returns whole messages. A length over the bound is rejected from the header alone,
 * before any of the body is buffered, so a peer cannot make the receiver hold more than
 * one largest frame.
 */
const SLAB_BYTES = 1024 * 1024

export class FrameDecoder {
  private readonly pieces: Uint8Array[] = []
  private buffered = 0
  private expected = -1
  private readonly blocksInto: BlockAllocator | undefined
  /** Copying mode: the header read so far, and the body being filled. */
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES)
  private headerFilled = 0
  private body: Uint8Array | undefined
  /** The body is a BLOCK's or RUN's, in memory from `blocksInto`. */
  private blocksBody = false
  private bodyFilled = 0

  constructor (options: FrameDecoderOptions = {}) {
    this.blocksInto = options.blocksInto
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes (): number {
    return this.blocksInto === undefined ? this.buffered : this.headerFilled + this.bodyFilled
  }

  push (piece: Uint8Array): ExchangeMessage[] {
    if (this.blocksInto !== undefined) return this.pushCopying(piece, this.blocksInto)
    if (piece.byteLength > 0) {
      this.pieces.push(piece)
      this.buffered += piece.byteLength
    }
    const out: ExchangeMessage[] = []
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break
        this.expected = checkedLength(this.take(FRAME_HEADER_BYTES))
      }
      if (this.buffered < this.expected) break
      const body = this.take(this.expected)
      this.expected = -1
      out.push(decodeBody(body))
    }
    return out
  }

  /** Copies every byte of `piece` into the frame it belongs to; keeps no reference to it. */
  private pushCopying (piece: Uint8Array, blocksInto: BlockAllocator): ExchangeMessage[] {
    const out: ExchangeMessage[] = []
    let at = 0
    while (at < piece.byteLength) {
      if (this.expected < 0) {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFilled, piece.byteLength - at)
        this.header.set(piece.subarray(at, at + n), this.headerFilled)
        this.headerFilled += n
        at += n
        if (this.headerFilled < FRAME_HEADER_BYTES) break
        this.headerFilled = 0
        this.expected = checkedLength(this.header)
        continue
      }
      // the body's first byte is its type: known before any of it is copied
      if (this.body === undefined) {
        this.blocksBody = piece[at] === MessageType.BLOCK || piece[at] === MessageType.RUN
        // a RUN's entries (past its type byte) on a page: the disk store can write them as they are
        this.body = this.blocksBody ? blocksInto.allocate(this.expected, piece[at] === MessageType.RUN ? 1 : undefined) : new Uint8Array(this.expected)
      }
      const n = Math.min(this.expected - this.bodyFilled, piece.byteLength - at)
      copyBytes(piece.subarray(at, at + n), this.body, this.bodyFilled)
      this.bodyFilled += n
      at += n
      if (this.bodyFilled < this.expected) break
      out.push(this.completeBody(blocksInto))
    }
    return out
  }

  /**
   * Where the transport may put the next bytes it receives, when it can read into memory
   * it is given (a socket's `onread`): the rest of the BLOCK or RUN body being received,
   * so those bytes need no copy. Undefined otherwise: read anywhere and `push`.
   */
  readTarget (): Uint8Array | undefined {
    if (this.body === undefined || !this.blocksBody) return undefined
    return this.body.subarray(this.bodyFilled)
  }

  /** `n` bytes were received into the last `readTarget()`. */
  pushInPlace (n: number): ExchangeMessage[] {
    const blocksInto = this.blocksInto
    if (blocksInto === undefined || this.body === undefined || n > this.expected - this.bodyFilled) {
      throw new RokError(ProtocolErrorCode.INVALID_MESSAGE, 'bytes received in place with no body waiting for them')
    }
    this.bodyFilled += n
    return this.bodyFilled < this.expected ? [] : [this.completeBody(blocksInto)]
  }

  private completeBody (blocksInto: BlockAllocator): ExchangeMessage {
    const body = this.body as Uint8Array
    this.body = undefined
    this.bodyFilled = 0
    this.expected = -1
    const message = decodeBody(body)
    if (message.type === 'run') blocksInto.share?.(body, message.count)
    return message
  }

  private slab: ArrayBuffer | undefined
  private slabUsed = 0

  /**
   * Room for a frame that spans pieces. Small frames are carved from a shared 1 MiB slab
   * (one allocation per slab instead of one per 64 KiB chunk; the slab is freed when the
   * last frame cut from it is); large ones get their own buffer. Never zero-filled: every
   * byte is written at once.
   */
  private allocate (n: number): Uint8Array {
    if (n > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(n)
    if (this.slab === undefined || this.slabUsed + n > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer
      this.slabUsed = 0
    }
    const out = new Uint8Array(this.slab, this.slabUsed, n)
    this.slabUsed += n
    return out
  }

  /** Remove `n` bytes from the front; copies only when they span several pieces. */
  private take (n: number): Uint8Array {
    const first = this.pieces[0]
    if (first.byteLength >= n) {
      const out = first.subarray(0, n)
      if (first.byteLength === n) this.pieces.shift()
      else this.pieces[0] = first.subarray(n)
      this.buffered -= n
      return out
    }
    const out = this.allocate(n)
    let at = 0
    let used = 0
    while (at < n) {
      const piece = this.pieces[used]
      const want = n - at
      if (piece.byteLength <= want) {
        out.set(piece, at)
        at += piece.byteLength
        used++
      } else {
        out.set(piece.subarray(0, want), at)
        this.pieces[used] = piece.subarray(want)
        at += want
      }
    }
    // one splice instead of a shift per piece: a 4 MiB block can arrive in hundreds of pieces
    this.pieces.splice(0, used)
    this.buffered -= n
    return out
  }
}
