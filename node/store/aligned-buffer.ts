/**
 * Memory whose address is a multiple of the page size, which O_DIRECT file I/O requires
 * of its buffers. Node's Buffers come from malloc with no such promise; a WebAssembly
 * memory is mapped by whole pages, so its bytes start on a page boundary.
 */

/** File offsets, lengths and buffer addresses of direct I/O are multiples of this. */
export const DIRECT_IO_ALIGNMENT = 4096

const WASM_PAGE = 64 * 1024

// the project's TypeScript libs leave WebAssembly out; Node has it
declare const WebAssembly: { Memory: new (descriptor: { initial: number, maximum?: number }) => { buffer: ArrayBuffer } }

/** `size` bytes (rounded up to 64 KiB) starting on a page boundary, not growable. */
export function alignedBuffer (size: number): Uint8Array {
  const pages = Math.ceil(size / WASM_PAGE)
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages })
  return new Uint8Array(memory.buffer, 0, size)
}

export function alignDown (n: number): number {
  return n - (n % DIRECT_IO_ALIGNMENT)
}

export function alignUp (n: number): number {
  return alignDown(n + DIRECT_IO_ALIGNMENT - 1)
}
