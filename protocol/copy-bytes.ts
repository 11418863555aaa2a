/**
 * `target.set(source, at)`, at memcpy speed when either side is shared memory: V8 copies
 * into or out of a SharedArrayBuffer byte by byte with relaxed atomics (~5x slower for a
 * 16 KiB block), while `Buffer#copy` over a range of the whole buffer is a plain memcpy.
 * Received blocks lie in shared memory when the hash worker reads them (see BlockArena).
 */
const bufferCopy = Buffer.prototype.copy

export function copyBytes (source: Uint8Array, target: Uint8Array, at: number): void {
  if (source.buffer instanceof SharedArrayBuffer || target.buffer instanceof SharedArrayBuffer) {
    // a range of the whole buffer: Buffer#copy of an entire view goes through `set` again
    bufferCopy.call(new Uint8Array(source.buffer, 0, source.byteOffset + source.byteLength), target, at, source.byteOffset, source.byteOffset + source.byteLength)
  } else {
    target.set(source, at)
  }
}
