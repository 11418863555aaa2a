import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BlockArena } from '../../node/p2p/exchange/block-arena.ts'

const KIB = 1024

describe('block arena', () => {
  it('reuses a slab only once every block cut from it is released', () => {
    const arena = new BlockArena()
    // 64 blocks of 16 KiB fill the first 1 MiB slab; the 65th starts a second
    const first = Array.from({ length: 64 }, () => arena.allocate(16 * KIB))
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
    const rest = Array.from({ length: 63 }, () => arena.allocate(16 * KIB))
    assert.ok(rest.every(b => b.buffer === next.buffer))
    assert.equal(arena.allocate(16 * KIB).buffer, slab)
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
    const big = arena.allocate(1024 * KIB)
    assert.equal(big.byteLength, 1024 * KIB)
    arena.release(big)
    arena.release(new Uint8Array(10))
    assert.equal(arena.freeSlabs, 0)
  })
})
