import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { BlockArena } from '../../node/p2p/exchange/block-arena.ts'
import { BlockVerifier } from '../../node/p2p/exchange/verify.ts'

async function checked (verifier: BlockVerifier, cid: CID, bytes: Uint8Array): Promise<boolean> {
  return await new Promise(resolve => { verifier.check(cid, bytes, resolve) })
}

function pattern (size: number, seed: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff)
}

/** `bytes` copied into memory from `arena`, as the data channel receives a block. */
function received (arena: BlockArena, bytes: Uint8Array): Uint8Array {
  const out = arena.allocate(bytes.byteLength)
  out.set(bytes)
  return out
}

describe('block verifier', () => {
  const verifiers: BlockVerifier[] = []
  after(async () => { await Promise.all(verifiers.map(async v => { await v.stop() })) })

  for (const worker of [true, false]) {
    it(`accepts matching bytes and rejects others, in shared memory or not (${worker ? 'worker' : 'inline'})`, async () => {
      const verifier = new BlockVerifier(worker)
      verifiers.push(verifier)
      const arena = new BlockArena({ shared: verifier.sharedMemory })
      for (const size of [1, 20_000, 1 << 20]) {
        const bytes = pattern(size, size)
        const cid = chunkCid(bytes)
        // a view into a larger buffer, as transports deliver, a buffer of its own, and arena memory
        const framed = new Uint8Array(size + 10)
        framed.set(bytes, 5)
        for (const input of [framed.subarray(5, 5 + size), Uint8Array.prototype.slice.call(bytes), received(arena, bytes)]) {
          assert.equal(await checked(verifier, cid, input), true, `size ${size}`)
        }
        const bad = received(arena, bytes)
        bad[size >> 1] ^= 1
        assert.equal(await checked(verifier, cid, bad), false, `corrupt block of ${size} bytes accepted`)
      }
    })
  }

  it('hashes blocks in shared memory on the worker, many per message, and finds the corrupt ones', async () => {
    const verifier = new BlockVerifier(true)
    verifiers.push(verifier)
    assert.equal(verifier.sharedMemory, true)
    const arena = new BlockArena({ shared: true })
    const corrupt = new Set([0, 7, 128, 299])
    const answers: Array<Promise<boolean>> = []
    let answeredAtOnce = 0
    // 300 blocks of 16 KiB over two slabs: batches close on their block count and at the turn's end
    for (let i = 0; i < 300; i++) {
      const bytes = pattern(16384, i)
      const cid = chunkCid(bytes)
      const block = received(arena, bytes)
      if (corrupt.has(i)) block[i % 16384] ^= 0x80
      let now: boolean | undefined
      answers.push(new Promise(resolve => { verifier.check(cid, block, ok => { now = ok; resolve(ok) }) }))
      if (now !== undefined) answeredAtOnce++
    }
    assert.equal(answeredAtOnce, 0, 'blocks in shared memory were hashed on the calling thread')
    const results = await Promise.all(answers)
    assert.deepEqual(results.flatMap((ok, i) => ok ? [] : [i]), [...corrupt])
  })

  it('answers every block it held when its worker stops, frees its slabs, and hashes here after that', async () => {
    let idle = 0
    const verifier = new BlockVerifier(true, () => { idle++ })
    const arena = new BlockArena({ shared: true })
    const answers: Array<Promise<boolean>> = []
    for (let i = 0; i < 50; i++) {
      const bytes = pattern(20_000, i)
      const block = received(arena, bytes)
      if (i === 3) block[0] ^= 1
      answers.push(checked(verifier, chunkCid(bytes), block))
    }
    await verifier.stop()
    const results = await Promise.all(answers)
    assert.deepEqual(results.flatMap((ok, i) => ok ? [] : [i]), [3])
    assert.ok(idle > 0, 'the arena was not told it may free its slabs')
    const bytes = pattern(100, 1)
    let now: boolean | undefined
    verifier.check(chunkCid(bytes), received(arena, bytes), ok => { now = ok })
    assert.equal(now, true)
  })

  it('ends a worker idle for two seconds, tells its owner, and starts another for the next blocks', async () => {
    let idle = 0
    const verifier = new BlockVerifier(true, () => { idle++ })
    verifiers.push(verifier)
    const arena = new BlockArena({ shared: true })
    const bytes = pattern(20_000, 9)
    // the same slab before and after: the new worker must be sent it again
    assert.equal(await checked(verifier, chunkCid(bytes), received(arena, bytes)), true)
    await new Promise(resolve => setTimeout(resolve, 2600))
    assert.equal(idle, 1)
    let now: boolean | undefined
    const again = new Promise<boolean>(resolve => { verifier.check(chunkCid(bytes), received(arena, bytes), ok => { now = ok; resolve(ok) }) })
    assert.equal(now, undefined, 'hashed on the calling thread: the worker was not started again')
    assert.equal(await again, true)
    // still on a worker: one that failed would have sent every later block to this thread
    let later: boolean | undefined
    const third = new Promise<boolean>(resolve => { verifier.check(chunkCid(bytes), received(arena, bytes), ok => { later = ok; resolve(ok) }) })
    assert.equal(later, undefined)
    assert.equal(await third, true)
  })
})
