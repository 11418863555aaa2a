/**
 * Worker thread that checks received blocks against their CIDs' SHA-256 digests, so the
 * event loop that reads and decrypts the streams never stops to hash. The blocks stay
 * where they were received, in shared memory (SharedArrayBuffer slabs of the arena): a
 * request names them by slab and range and carries the digests they must have; the reply
 * is one byte per block, 1 when it matches.
 *
 * The worker runs `hashWorkerMain`'s source text as a script (HASH_WORKER_SOURCE, started
 * with `eval`), not this module: loading a .ts module in a new thread sets up the
 * type-stripping loader again, and took ~70 ms of CPU before the first block was hashed
 * against ~30 ms for the script.
 */
export interface HashRequest {
  id: number
  /** Blocks in this request: the first `count` entries of `ranges` and `expected`. */
  count: number
  /** Shared buffers not sent before, with the ids `ranges` names them by; kept for later requests. */
  slabs: Array<[number, SharedArrayBuffer]>
  /** slab id, offset, length of each block */
  ranges: Int32Array
  /** The digest each block must have, 32 bytes per block in request order. */
  expected: Uint8Array
}

export interface HashReply {
  id: number
  /** 1 per matching block, 0 otherwise, in request order */
  ok: Uint8Array
}

/** The worker's body. It runs from its source text, so it uses nothing from this module's scope. */
function hashWorkerMain (): void {
  const { hash } = require('node:crypto') as typeof import('node:crypto')
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads')
  const slabs = new Map<number, SharedArrayBuffer>()
  parentPort?.on('message', (req: HashRequest) => {
    for (const [id, slab] of req.slabs) slabs.set(id, slab)
    const count = req.count
    const ok = new Uint8Array(count)
    const expected = Buffer.from(req.expected.buffer, req.expected.byteOffset, req.expected.byteLength)
    for (let i = 0; i < count; i++) {
      const block = new Uint8Array(slabs.get(req.ranges[3 * i]) as SharedArrayBuffer, req.ranges[3 * i + 1], req.ranges[3 * i + 2])
      // digests as latin1 strings: a 'buffer' digest is a new ArrayBuffer with memory of its
      // own (malloc, and the collector's sweep) per block; this was ~50 ms per GiB less
      ok[i] = hash('sha256', block, 'latin1') === expected.toString('latin1', 32 * i, 32 * i + 32) ? 1 : 0
    }
    const reply: HashReply = { id: req.id, ok }
    parentPort.postMessage(reply, [ok.buffer])
  })
}

/** Script source for `new Worker(HASH_WORKER_SOURCE, { eval: true })`. */
export const HASH_WORKER_SOURCE = `(${hashWorkerMain.toString()})()`
