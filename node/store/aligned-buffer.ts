/**
 * Memory whose address is a multiple of the page size, which O_DIRECT file I/O requires
 * of its buffers. Node's Buffers come from malloc with no such promise; a WebAssembly
 * memory is mapped by whole pages, so its bytes start on a page boundary.
 */

/** File offsets, lengths and buffer addresses of direct I/O are multiples of this. */
export const DIRECT_IO_ALIGNMENT = 4096

const WASM_PAGE = 64 * 1024

// the project's TypeScript libs leave WebAssembly out; Node has it
declare const WebAssembly: { Memory: new (descriptor: { initial: number, maximum?: number, shared?: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer } }

/** Memory made here: its first byte is on a page boundary. */
const pageAligned = new WeakSet<ArrayBufferLike>()

/** `size` bytes (rounded up to 64 KiB) starting on a page boundary, not growable. */
export function alignedBuffer (size: number): Uint8Array {
  const pages = Math.ceil(size / WASM_PAGE)
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages })
  pageAligned.add(memory.buffer)
  return new Uint8Array(memory.buffer, 0, size)
}

/** A SharedArrayBuffer of `size` bytes (rounded up to 64 KiB) starting on a page boundary. */
export function alignedSharedBuffer (size: number): SharedArrayBuffer {
  const pages = Math.ceil(size / WASM_PAGE)
  const buffer = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer as SharedArrayBuffer
  pageAligned.add(buffer)
  return buffer
}

/** True when `view` starts on a page boundary, so direct I/O may use its memory as it is. */
export function startsOnPage (view: Uint8Array): boolean {
  return view.byteOffset % DIRECT_IO_ALIGNMENT === 0 && pageAligned.has(view.buffer)
}

export function alignDown (n: number): number {
  return n - (n % DIRECT_IO_ALIGNMENT)
}

export function alignUp (n: number): number {
  return alignDown(n + DIRECT_IO_ALIGNMENT - 1)
}
