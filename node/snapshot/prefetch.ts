/**
 * Read ahead: fetch up to `depth` blocks at once while yielding them strictly in order,
 * so disk reads (and, for remote stores, round trips) overlap with verification and
 * writing. Memory is bounded by `depth` blocks.
 */
import type { CID } from '../../protocol/cid.ts'

export const DEFAULT_PREFETCH_DEPTH = 8

export async function * prefetchInOrder<T extends [CID, number]> (refs: AsyncIterable<T>, get: (cid: CID) => Promise<Uint8Array>, depth = DEFAULT_PREFETCH_DEPTH): AsyncGenerator<[T, Uint8Array]> {
  const queue: Array<[T, Promise<Uint8Array>]> = []
  try {
    for await (const ref of refs) {
      const pending = get(ref[0])
      pending.catch(() => {}) // surfaced in order, when its turn comes
      queue.push([ref, pending])
      if (queue.length >= depth) {
        const [r, p] = queue.shift()!
        yield [r, await p]
      }
    }
    while (queue.length > 0) {
      const [r, p] = queue.shift()!
      yield [r, await p]
    }
  } finally {
    queue.length = 0
  }
}
