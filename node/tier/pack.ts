/**
 * Tier packs: many blocks in one object, so small chunks do not cost one request each.
 * The body is the local pack entry format (`[u32 len][u8 cid len][cid][data]`, see
 * node/store/pack-format.ts), followed by a trailer that lists the entries so a node that
 * has never seen the pack can index it with one ranged GET of its end:
 *
 *   trailer = per entry: [u8 cid len][cid][u32 data len]
 *   footer  = [u32 trailer bytes][u32 entries]['ROKPACK1']
 *
 * A pack's object key is `packs/<first two hex>/<sha256 of the whole object>`, so the
 * name proves the content and the same pack is never stored twice. Pure: no I/O.
 */
import { createHash } from 'node:crypto'
import { CID, bytesMatchCid } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { ENTRY_HEADER_FIXED, entryHeader } from '../store/pack-format.ts'
import { TierErrorCode } from './errors.ts'

export const PACK_MAGIC = new TextEncoder().encode('ROKPACK1')
export const FOOTER_SIZE = 8 + PACK_MAGIC.length
/** The most an entry adds besides its data: header, CID, and its trailer line. */
export const PACK_ENTRY_OVERHEAD = 2 * (ENTRY_HEADER_FIXED + 64)

export interface PackEntry {
  cid: CID
  /** Offset of the block's data inside the pack object. */
  offset: number
  length: number
}

export interface SealedPack {
  /** sha256 of the object, hex: the pack's name. */
  name: string
  key: string
  bytes: Uint8Array
  entries: PackEntry[]
}

export function packKey (name: string): string {
  return `packs/${name.slice(0, 2)}/${name}`
}

export function packNameOfKey (key: string): string | undefined {
  const m = /^packs\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(key)
  return m === null ? undefined : m[1]
}

/** Collects blocks and seals them into one pack object. */
export class PackBuilder {
  private parts: Uint8Array[] = []
  private entries: PackEntry[] = []
  private size = 0
  private trailerSize = 0

  /** Bytes of entries so far. */
  get bytes (): number { return this.size }
  /** The object's size if sealed now (entries, trailer, footer). */
  get sealedBytes (): number { return this.size + this.trailerSize + FOOTER_SIZE }
  get count (): number { return this.entries.length }

  add (cid: CID, data: Uint8Array): void {
    const header = entryHeader(cid.bytes, data.length)
    this.parts.push(header, data)
    this.entries.push({ cid, offset: this.size + header.length, length: data.length })
    this.size += header.length + data.length
    this.trailerSize += 1 + cid.bytes.length + 4
  }

  /** Hand over the collected blocks (to merge them into another pack) and start empty. */
  take (): Array<[CID, Uint8Array]> {
    const out: Array<[CID, Uint8Array]> = this.entries.map((e, i) => [e.cid, this.parts[2 * i + 1]])
    this.parts = []
    this.entries = []
    this.size = 0
    this.trailerSize = 0
    return out
  }

  seal (): SealedPack {
    const trailerParts: Uint8Array[] = []
    let trailerBytes = 0
    for (const e of this.entries) {
      const t = new Uint8Array(1 + e.cid.bytes.length + 4)
      t[0] = e.cid.bytes.length
      t.set(e.cid.bytes, 1)
      new DataView(t.buffer).setUint32(1 + e.cid.bytes.length, e.length)
      trailerParts.push(t)
      trailerBytes += t.length
    }
    const footer = new Uint8Array(FOOTER_SIZE)
    const view = new DataView(footer.buffer)
    view.setUint32(0, trailerBytes)
    view.setUint32(4, this.entries.length)
    footer.set(PACK_MAGIC, 8)
    const bytes = Buffer.concat([...this.parts, ...trailerParts, footer])
    const name = createHash('sha256').update(bytes).digest('hex')
    const sealed = { name, key: packKey(name), bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), entries: this.entries }
    this.parts = []
    this.entries = []
    this.size = 0
    this.trailerSize = 0
    return sealed
  }
}

function damaged (name: string, why: string): RokError {
  return new RokError(TierErrorCode.DAMAGED, `tier pack ${name} is damaged: ${why}; run 'rok verify --tier'`, { details: { pack: name } })
}

/**
 * How many bytes at the end of a pack hold its trailer and footer, from the pack's last
 * bytes (at least FOOTER_SIZE of them).
 */
export function trailerLength (name: string, tail: Uint8Array): number {
  if (tail.length < FOOTER_SIZE) throw damaged(name, 'shorter than a pack footer')
  const footer = tail.subarray(tail.length - FOOTER_SIZE)
  if (!Buffer.from(footer.subarray(8)).equals(PACK_MAGIC)) throw damaged(name, 'no pack footer')
  return new DataView(footer.buffer, footer.byteOffset, 8).getUint32(0) + FOOTER_SIZE
}

/**
 * The entries of a pack from its end (`tail` holds at least `trailerLength` bytes) and
 * its total size. Checks that the entries tile the body exactly.
 */
export function parseTrailer (name: string, tail: Uint8Array, packSize: number): PackEntry[] {
  const need = trailerLength(name, tail)
  if (tail.length < need || need > packSize) throw damaged(name, 'trailer cut short')
  const footer = tail.subarray(tail.length - FOOTER_SIZE)
  const count = new DataView(footer.buffer, footer.byteOffset, 8).getUint32(4)
  const trailer = tail.subarray(tail.length - need, tail.length - FOOTER_SIZE)
  const entries: PackEntry[] = []
  let pos = 0
  let offset = 0
  for (let i = 0; i < count; i++) {
    if (pos >= trailer.length) throw damaged(name, 'trailer lists fewer entries than it says')
    const cidLength = trailer[pos]
    if (pos + 1 + cidLength + 4 > trailer.length) throw damaged(name, 'trailer entry cut short')
    let cid: CID
    try { cid = CID.decode(trailer.subarray(pos + 1, pos + 1 + cidLength)) } catch { throw damaged(name, 'trailer holds an invalid CID') }
    const length = new DataView(trailer.buffer, trailer.byteOffset + pos + 1 + cidLength, 4).getUint32(0)
    offset += ENTRY_HEADER_FIXED + cidLength
    entries.push({ cid, offset, length })
    offset += length
    pos += 1 + cidLength + 4
  }
  if (pos !== trailer.length || offset !== packSize - need) throw damaged(name, 'trailer does not match the body')
  return entries
}

/** Check a whole pack object: name = sha256, trailer consistent, every block matches its CID. */
export function checkPack (name: string, bytes: Uint8Array): { entries: PackEntry[], bad: PackEntry[] } {
  if (createHash('sha256').update(bytes).digest('hex') !== name) throw damaged(name, 'its bytes do not hash to its name')
  const entries = parseTrailer(name, bytes, bytes.length)
  const bad = entries.filter(e => !bytesMatchCid(e.cid, bytes.subarray(e.offset, e.offset + e.length)))
  return { entries, bad }
}
