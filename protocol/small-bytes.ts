/**
 * Small byte arrays (CIDs, frame and entry headers, index values) carved from shared 4 KiB
 * off-heap buffers. Why: V8 keeps a fresh typed array of up to 64 bytes inside its heap
 * until something asks for its `.buffer` or hands it to native code (a socket, level,
 * multiformats' constructors all do); then it gets an off-heap backing store of its own,
 * one per block for the collector to track and sweep. On a VM that returns freed memory
 * to its host that churn cost more than the bytes. A slab is freed once nothing carved
 * from it is left (at worst 4 KiB kept alive by one small array).
 */
const SLAB_BYTES = 4096
/** Larger arrays get their own buffer: they are off-heap from the start anyway. */
const MAX_SMALL = 256

let slab = new Uint8Array(0)
let used = 0

/** `n` bytes, not zeroed, over memory shared with other small arrays (a plain Uint8Array, as multiformats makes). */
export function smallBytes (n: number): Uint8Array {
  if (n > MAX_SMALL) return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n)
  if (used + n > slab.byteLength) {
    slab = new Uint8Array(Buffer.allocUnsafeSlow(SLAB_BYTES).buffer, 0, SLAB_BYTES)
    used = 0
  }
  const out = slab.subarray(used, used + n)
  used += n
  return out
}

/** Big-endian u32 at `at`, without a DataView (which needs the array's `.buffer`). */
export function writeU32 (into: Uint8Array, at: number, value: number): void {
  into[at] = value >>> 24
  into[at + 1] = (value >>> 16) & 0xff
  into[at + 2] = (value >>> 8) & 0xff
  into[at + 3] = value & 0xff
}

/** Big-endian u32 at `at`. */
export function readU32 (from: Uint8Array, at: number): number {
  return ((from[at] << 24) | (from[at + 1] << 16) | (from[at + 2] << 8) | from[at + 3]) >>> 0
}
