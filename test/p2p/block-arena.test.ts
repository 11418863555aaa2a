import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ARENA_SLAB_BYTES, BlockArena } from '../../node/p2p/exchange/block-arena.ts'

const KIB = 1024
const PER_SLAB = ARENA_SLAB_BYTES / (16 * KIB)

describe('block arena', () => {
  it('puts a run\'s entries on a page with room after it, which neighbours never share, and spans nothing else', () => {
    const arena = new BlockArena({ shared: true })
    const before = arena.allocate(100)
    const body = arena.allocate(50_000, 1)
    const after = arena.allocate(100)
    assert.equal((body.byteOffset + 1) % 4096, 0, 'the byte after the type byte starts a page')
    const span = arena.pageSpan(body, 1)
    assert.ok(span !== undefined)
    assert.equal(span.byteOffset, body.byteOffset + 1)
    assert.equal(span.byteLength % 4096, 0, 'the span ends on a page')
    const end = span.byteOffset + span.byteLength
    assert.ok(end >= body.byteOffset + body.byteLength + 8, 'with room for a padding entry header')
    assert.ok(before.byteOffset + before.byteLength <= body.byteOffset && after.byteOffset >= end, 'no other allocation lies in the span')
    assert.equal(arena.pageSpan(after, 0), undefined, 'memory allocated without a page gets no span')
    assert.equal(arena.pageSpan(body, 2), undefined, 'a byte that does not start a page gets none')
    // unshared slabs are not placed on pages: nothing for direct I/O
    const plain = new BlockArena()
    assert.equal(plain.pageSpan(plain.allocate(50_000, 1), 1), undefined)
  })

  it('reuses a slab only once every block cut from it is released', () => {
    const arena = new BlockArena()
    // PER_SLAB blocks of 16 KiB fill the first slab; the next starts a second
    const first = Array.from({ length: PER_SLAB }, () => arena.allocate(16 * KIB))
    const slab = first[0].buffer
    assert.ok(first.every(b => b.buffer === slab))
    const next = arena.allocate(16 * KIB)
    assert.notEqual(next.buffer, slab)
    for (const b of first.slice(1)) arena.release(b)
    assert.equal(arena.freeSlabs, 0, 'one block of the slab is still held')
    arena.release(first[0])
    assert.equal(arena.freeSlabs, 1)
    // a second release of the same block changes nothing
    arena.release(first[0])
    assert.equal(arena.freeSlabs, 1)
    // fill the second slab: the third comes from the free list, i.e. the first slab again
    const rest = Array.from({ length: PER_SLAB - 1 }, () => arena.allocate(16 * KIB))
    assert.ok(rest.every(b => b.buffer === next.buffer))
    assert.equal(arena.allocate(16 * KIB).buffer, slab)
  })

  it('frees a run shared by its blocks only when every one of them is released', () => {
    const arena = new BlockArena()
    const quarter = ARENA_SLAB_BYTES / 4
    const run = arena.allocate(quarter)
    arena.share(run, 3)
    const blocks = [run.subarray(0, 10), run.subarray(10, 20), run.subarray(20)]
    const others = Array.from({ length: 3 }, () => arena.allocate(quarter))
    assert.ok(others.every(b => b.buffer === run.buffer))
    assert.notEqual(arena.allocate(16 * KIB).buffer, run.buffer, 'the slab is full')
    for (const b of others) arena.release(b)
    arena.release(blocks[0])
    arena.release(blocks[1])
    assert.equal(arena.freeSlabs, 0, 'a block of the run is still held')
    arena.release(blocks[2])
    assert.equal(arena.freeSlabs, 1)
  })

  it('starts the current slab over when all its blocks are released', () => {
    const arena = new BlockArena()
    const x = arena.allocate(100)
    arena.release(x)
    const y = arena.allocate(100)
    assert.equal(y.buffer, x.buffer)
    assert.equal(y.byteOffset, 0)
  })

  it('gives large blocks their own buffer and ignores bytes it did not hand out', () => {
    const arena = new BlockArena()
    const big = arena.allocate(ARENA_SLAB_BYTES / 2 + 1)
    assert.equal(big.byteLength, ARENA_SLAB_BYTES / 2 + 1)
    arena.release(big)
    arena.release(new Uint8Array(10))
    assert.equal(arena.freeSlabs, 0)
  })

  it('keeps every free shared slab until trimmed, and at most four unshared ones', () => {
    for (const shared of [false, true]) {
      const arena = new BlockArena({ shared })
      // seven full slabs, then an eighth current one; releasing the seven frees them all
      const blocks = Array.from({ length: 7 * PER_SLAB }, () => arena.allocate(16 * KIB))
      const current = arena.allocate(16 * KIB)
      assert.equal(current.buffer instanceof SharedArrayBuffer, shared)
      for (const b of blocks) arena.release(b)
      assert.equal(arena.freeSlabs, shared ? 7 : 4)
      arena.trim()
      assert.equal(arena.freeSlabs, 0)
      // the current slab is still in use and still its own
      arena.release(current)
      assert.equal(arena.allocate(16 * KIB).buffer, current.buffer)
    }
  })
})
