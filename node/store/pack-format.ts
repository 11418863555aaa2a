/**
 * Pack files hold many blocks back to back, so small chunks do not cost one file each.
 * Each entry is self-describing — `[u32 data length][u8 cid length][cid bytes][data]` —
 * so the index can always be rebuilt from the packs alone. An entry whose cid length is
 * 0 is padding (its data is meaningless): the disk store pads so that a run of entries
 * written with direct I/O straight from the memory it was received in starts on a page. Pack names are
 * `<8 hex digits>.pack`; a pack is written by one process and never appended to again
 * once closed.
 */
import { readU32, smallBytes, writeU32 } from '../../protocol/small-bytes.ts'

export const PACK_TARGET_SIZE = 32 * 1024 * 1024
export const ENTRY_HEADER_FIXED = 5

export function packFileName (id: number): string {
  return id.toString(16).padStart(8, '0') + '.pack'
}

export function parsePackFileName (name: string): number | undefined {
  const m = /^([0-9a-f]{8})\.pack$/.exec(name)
  return m === null ? undefined : parseInt(m[1], 16)
}

export function entryHeader (cidBytes: Uint8Array, dataLength: number): Uint8Array {
  const header = new Uint8Array(ENTRY_HEADER_FIXED + cidBytes.length)
  writeEntryHeader(header, 0, cidBytes, dataLength)
  return header
}

/** The header of a padding entry of `length` bytes in all (at least ENTRY_HEADER_FIXED), at `at` of `into`. */
export function writePaddingHeader (into: Uint8Array, at: number, length: number): void {
  writeU32(into, at, length - ENTRY_HEADER_FIXED)
  into[at + 4] = 0
}

/** An entry's header written into `into` at `at` (ENTRY_HEADER_FIXED + cid length bytes). */
export function writeEntryHeader (into: Uint8Array, at: number, cidBytes: Uint8Array, dataLength: number): void {
  writeU32(into, at, dataLength)
  into[at + 4] = cidBytes.length
  into.set(cidBytes, at + ENTRY_HEADER_FIXED)
}

/** Where a block's bytes sit: pack id, byte offset of the data, data length. */
export interface BlockLocation {
  pack: number
  offset: number
  length: number
}

/** One per block stored, handed to level: from a shared slab (see protocol/small-bytes.ts). */
export function encodeLocation (loc: BlockLocation): Uint8Array {
  const out = smallBytes(16)
  writeU32(out, 0, loc.pack)
  // a u64 offset: packs stay far below 2^53
  writeU32(out, 4, Math.floor(loc.offset / 2 ** 32))
  writeU32(out, 8, loc.offset >>> 0)
  writeU32(out, 12, loc.length)
  return out
}

export function decodeLocation (bytes: Uint8Array): BlockLocation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { pack: view.getUint32(0), offset: Number(view.getBigUint64(4)), length: view.getUint32(12) }
}

/**
 * A pack's table of contents: where each of its blocks sits, stored in the index (under
 * `tableKey`) in the same batch as the blocks' own entries when the pack is sealed. The
 * serving side reads it to find a pack's other blocks without one index lookup each.
 * Layout: u8 version (1), then per block `[u8 cid length][cid][u32 data offset][u32 length]`.
 */
const TABLE_VERSION = 1
const TABLE_ENTRY_FIXED = 9

/**
 * A table's index key: 0x00 then the pack id. Every block key is a CIDv1 and starts with
 * 0x01, so tables sort before all blocks and never collide with one.
 */
export function tableKey (pack: number): Uint8Array {
  const key = new Uint8Array(5)
  writeU32(key, 1, pack)
  return key
}

/** The pack id in a table's key. */
export function tablePack (key: Uint8Array): number {
  return readU32(key, 1)
}

/** Where block keys start in the index: scans of blocks begin here, past the tables. */
export const FIRST_BLOCK_KEY = Uint8Array.of(1)

/** Gathers a pack's table as blocks are appended to it. */
export class PackTableBuilder {
  private bytes = new Uint8Array(16 * 1024)
  private length = 1
  private entries = 0

  constructor () {
    this.bytes[0] = TABLE_VERSION
  }

  get count (): number {
    return this.entries
  }

  add (cidBytes: Uint8Array, location: BlockLocation): void {
    // a pack far past 4 GiB (no configuration makes one) is simply not tabled: readers use the index
    if (location.offset + location.length > 0xffffffff) return
    const need = this.length + TABLE_ENTRY_FIXED + cidBytes.byteLength
    if (need > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(need, this.bytes.byteLength * 2))
      grown.set(this.bytes.subarray(0, this.length))
      this.bytes = grown
    }
    const at = this.length
    this.bytes[at] = cidBytes.byteLength
    this.bytes.set(cidBytes, at + 1)
    writeU32(this.bytes, at + 1 + cidBytes.byteLength, location.offset)
    writeU32(this.bytes, at + 5 + cidBytes.byteLength, location.length)
    this.length = need
    this.entries++
  }

  /** The table as stored: a copy, so the builder may go on. */
  encode (): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

/**
 * Where each entry of a stored table starts; undefined when the bytes are not a table
 * this version wrote (the reader then uses the index).
 */
export function tableEntryStarts (table: Uint8Array): Uint32Array | undefined {
  if (table.byteLength < 1 || table[0] !== TABLE_VERSION) return undefined
  let count = 0
  for (let at = 1; at < table.byteLength; at += TABLE_ENTRY_FIXED + table[at]) {
    if (table[at] === 0 || at + TABLE_ENTRY_FIXED + table[at] > table.byteLength) return undefined
    count++
  }
  const starts = new Uint32Array(count)
  for (let at = 1, i = 0; i < count; at += TABLE_ENTRY_FIXED + table[at]) starts[i++] = at
  return starts
}

/** A CID's last four bytes (of its digest) as a number: a ready-made hash. */
export function cidTail (cidBytes: Uint8Array): number {
  return readU32(cidBytes, cidBytes.byteLength - 4)
}

/** cidTail of the entry at `at`. */
export function tableEntryTail (table: Uint8Array, at: number): number {
  return readU32(table, at + 1 + table[at] - 4)
}

export function tableEntryIs (table: Uint8Array, at: number, cidBytes: Uint8Array): boolean {
  const n = cidBytes.byteLength
  if (table[at] !== n) return false
  for (let i = n - 1; i >= 0; i--) if (table[at + 1 + i] !== cidBytes[i]) return false
  return true
}

export function tableEntryLocation (table: Uint8Array, at: number, pack: number): BlockLocation {
  const end = at + 1 + table[at]
  return { pack, offset: readU32(table, end), length: readU32(table, end + 4) }
}

/** Every block a stored table lists, in the order it was appended; undefined for a malformed table. */
export function packTableEntries (table: Uint8Array, pack: number): Array<{ cidBytes: Uint8Array, location: BlockLocation }> | undefined {
  const starts = tableEntryStarts(table)
  if (starts === undefined) return undefined
  return Array.from(starts, at => ({ cidBytes: table.subarray(at + 1, at + 1 + table[at]), location: tableEntryLocation(table, at, pack) }))
}
