/**
 * How a sync lists a version's chunks: sorted against the store into those here and
 * batches of those to fetch, so an update asks for its few new chunks in a few want lists;
 * and the reverse index keyed the same whether it is given CIDs or their packed bytes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkCid, parseCid, type CID } from '../../protocol/cid.ts'
import { ChunkSorter, packCids, packedCidBytes, unpackCids } from '../../node/sync/chunk-list.ts'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const KiB = 1024

describe('listing the chunks a sync fetches', () => {
  it('batches only the chunks the store lacks, each batch within its byte and count bounds, and counts the bytes already here', async () => {
    const store = new MemoryBlockStore()
    const chunks: Array<{ cid: CID, size: number, here: boolean }> = []
    for (let i = 0; i < 3000; i++) {
      const bytes = seededBytes(i, 64)
      const cid = chunkCid(bytes)
      // every tenth chunk is new, as in an update; the rest are already stored
      const here = i % 10 !== 0
      if (here) await store.put(cid, bytes)
      chunks.push({ cid, size: 64 * KiB, here })
    }
    const sorter = new ChunkSorter(async cids => await Promise.all(cids.map(async c => await store.has(c))), 1024 * KiB, 7)
    for (const c of chunks) await sorter.add(c.cid, c.size)
    await sorter.finish()
    const missing = chunks.filter(c => !c.here)
    const batched = sorter.batches.flatMap(b => unpackCids(b))
    assert.deepEqual(batched.map(c => c.toString()), missing.map(c => c.cid.toString()), 'exactly the missing chunks, in walk order')
    for (const b of sorter.batches) {
      assert.ok(b.count <= 7, `${b.count} chunks in a batch`)
      assert.equal(b.bytes, b.count * 64 * KiB)
    }
    assert.equal(sorter.batches.length, Math.ceil(missing.length / 7))
    assert.equal(sorter.presentBytes, (chunks.length - missing.length) * 64 * KiB)
    assert.deepEqual(sorter.toIndex.flatMap(b => unpackCids(b)).map(c => c.toString()), chunks.map(c => c.cid.toString()), 'every chunk kept for the reverse index')
  })

  it('a version this node lacks entirely is cut by bytes', async () => {
    const sorter = new ChunkSorter(async cids => cids.map(() => false), 256 * KiB, 1024)
    for (let i = 0; i < 100; i++) await sorter.add(chunkCid(seededBytes(i, 32)), 64 * KiB)
    await sorter.finish()
    assert.deepEqual(sorter.batches.map(b => b.count), Array(25).fill(4))
    assert.equal(sorter.presentBytes, 0)
  })

  it('chunks the bucket\'s previous version has are neither looked up nor listed for the index, and keep their places in the list', async () => {
    const asked: string[] = []
    const sorter = new ChunkSorter(async cids => { asked.push(...cids.map(c => c.toString())); return cids.map(() => false) }, 1024 * KiB, 1024)
    const cids = Array.from({ length: 3000 }, (_, i) => chunkCid(seededBytes(i, 16)))
    // the first and last thousand are known (a shared leaf, say); the middle thousand is new
    for (const [i, c] of cids.entries()) await sorter.add(c, KiB, i < 1000 || i >= 2000)
    await sorter.finish()
    const middle = cids.slice(1000, 2000).map(c => c.toString())
    assert.deepEqual(asked, middle)
    assert.deepEqual(sorter.toIndex.flatMap(b => unpackCids(b)).map(c => c.toString()), middle)
    assert.deepEqual(sorter.batches.flatMap(b => unpackCids(b)).map(c => c.toString()), middle)
    assert.equal(sorter.total, 3000)
    assert.equal(sorter.presentBytes, 2000 * KiB)
    assert.deepEqual(sorter.spans.map(s => [s.first, s.end]), [[1000, 2000]])
  })

  it('the reverse index keys a CID given as packed bytes as it keys the CID itself', async () => {
    const cids = [chunkCid(seededBytes(1, 10)), chunkCid(seededBytes(2, 10))]
    const packed = packCids(cids.map(c => c.bytes), 20)
    assert.deepEqual([...packedCidBytes(packed)].map(b => [...b]), cids.map(c => [...c.bytes]))
    const [dir, cleanup] = await tempDir()
    const engine = await openEngine({ home: join(dir, 'home'), create: true })
    const refs = engine.sync.refs
    const record = parseCid('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    await refs.addBlocks('g/one', record, [packedCidBytes(packed).next().value!, cids[1]])
    try {
      for (const cid of cids) assert.ok(await refs.referencedByAny(cid, ['g/one']), `${cid.toString()} is indexed`)
      assert.equal(await refs.referencedByAny(chunkCid(seededBytes(3, 10)), ['g/one']), false)
      assert.ok(await refs.indexed('g/one', record))
    } finally {
      await engine.close()
      await cleanup()
    }
  })
})
