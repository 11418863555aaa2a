/**
 * Pack files hold many blocks back to back, so small chunks do not cost one file each.
 * Each entry is self-describing — `[u32 data length][u8 cid length][cid bytes][data]` —
 * so the index can always be rebuilt from the packs alone. Pack names are
 * `<8 hex digits>.pack`; a pack is written by one process and never appended to again
 * once closed.
 */
import { smallBytes, writeU32 } from '../../protocol/small-bytes.ts'

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
