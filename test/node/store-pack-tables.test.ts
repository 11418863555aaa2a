import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { openDiskStore, type BinaryIndex } from '../../node/store/index.ts'
import { PackTableBuilder, tableEntryLocation, tableEntryStarts, tableKey } from '../../node/store/pack-format.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const PACK = 64 * 1024
const BLOCK = 8000

/** The store's level index, counting the block keys looked up. */
async function countingIndex (dir: string): Promise<{ index: BinaryIndex, looked: () => number, close: () => Promise<void> }> {
  const db = new Level<string, string>(join(dir, 'db'))
  await db.open()
  const inner = db.sublevel<Uint8Array, Uint8Array>('blocks', { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as BinaryIndex
  let looked = 0
  const index: BinaryIndex = {
    get: async key => await inner.get(key),
    getMany: async keys => { looked += keys.length; return await inner.getMany(keys) },
    iterator: options => inner.iterator(options),
    batch: async (ops, options) => { await inner.batch(ops, options) }
  }
  return { index, looked: () => looked, close: async () => { await db.close() } }
}

/** Each block of a stored table, read with the accessors the serving side uses; undefined for a malformed one. */
function decodePackTable (table: Uint8Array): Array<{ cidBytes: Uint8Array, offset: number, length: number }> | undefined {
  const starts = tableEntryStarts(table)
  if (starts === undefined) return undefined
  return [...starts].map(at => {
    const { offset, length } = tableEntryLocation(table, at, 0)
    return { cidBytes: table.subarray(at + 1, at + 1 + table[at]), offset, length }
  })
}

function blocks (from: number, n: number): Array<[CID, Uint8Array]> {
  return Array.from({ length: n }, (_, i) => { const b = seededBytes(from + i, BLOCK); return [chunkCid(b), b] })
}

test('serving a version in the order it was stored looks up about one block per pack in the index, not every block', async () => {
  const [dir, cleanup] = await tempDir()
  const counted = await countingIndex(dir)
  const store = await openDiskStore({ dir: join(dir, 'packs'), index: counted.index, packTargetSize: PACK })
  try {
    const stored = blocks(0, 64) // 512 kB: seven packs of nine blocks and one of one
    await store.putMany(stored)
    await store.flush()
    const packs = new Set<number>()
    for await (const b of store.blocks()) packs.add(b.location.pack)
    assert.equal(packs.size, 8)
    const before = counted.looked()
    for (let i = 0; i < stored.length; i += 4) {
      const run = stored.slice(i, i + 4)
      const got = await store.getManyUnverified(run.map(([cid]) => cid), { packTables: true })
      got.forEach((bytes, j) => { assert.deepEqual(bytes, run[j][1], `block ${i + j}`) })
    }
    const looked = counted.looked() - before
    // a run that reaches into a pack not read before asks the index; that pack's table answers for the rest
    assert.ok(looked <= 8 * 2 * 4, `${looked} index lookups for 64 blocks in 8 packs`)
    // and without tables every block is looked up
    const plain = counted.looked()
    for (let i = 0; i < stored.length; i += 4) await store.getManyUnverified(stored.slice(i, i + 4).map(([cid]) => cid))
    assert.equal(counted.looked() - plain, 64)
  } finally {
    await store.close()
    await counted.close()
    await cleanup()
  }
})

test('blocks gc moves out of a pack it then removes are read from their new place', async () => {
  const [dir, cleanup] = await tempDir()
  const counted = await countingIndex(dir)
  const store = await openDiskStore({ dir: join(dir, 'packs'), index: counted.index, packTargetSize: PACK })
  try {
    const stored = blocks(100, 24)
    await store.putMany(stored)
    await store.flush()
    const cids = stored.map(([cid]) => cid)
    await store.getManyUnverified(cids.slice(0, 4), { packTables: true })
    await new Promise(resolve => setTimeout(resolve, 20)) // the first pack's table is read meanwhile
    const firstPack = []
    for await (const b of store.blocks()) if (b.location.pack === 1) firstPack.push(b)
    assert.equal(firstPack.length, 9)
    await store.moveBlocks(firstPack)
    await store.removePack(1)
    const got = await store.getManyUnverified(cids.slice(0, 9), { packTables: true })
    got.forEach((bytes, j) => { assert.deepEqual(bytes, stored[j][1]) })
  } finally {
    await store.close()
    await counted.close()
    await cleanup()
  }
})

test('a sealed pack\'s table lists every block in it and goes when the pack is removed', async () => {
  const [dir, cleanup] = await tempDir()
  const counted = await countingIndex(dir)
  const store = await openDiskStore({ dir: join(dir, 'packs'), index: counted.index, packTargetSize: PACK })
  try {
    const stored = blocks(200, 20)
    // in three calls with flushes between: entries indexed early still belong in the pack's table
    for (const part of [stored.slice(0, 3), stored.slice(3, 11), stored.slice(11)]) { await store.putMany(part); await store.flush() }
    const table = decodePackTable((await counted.index.get(tableKey(1)))!)
    assert.ok(table !== undefined)
    const locations = new Map<string, string>()
    for await (const b of store.blocks()) locations.set(b.cid.toString(), JSON.stringify(b.location))
    assert.equal(locations.size, 20, 'tables are not taken for blocks')
    assert.equal(table.length, 9)
    for (const [i, entry] of table.entries()) {
      assert.ok(Buffer.from(entry.cidBytes).equals(stored[i][0].bytes), `entry ${i}`)
      assert.equal(JSON.stringify({ pack: 1, offset: entry.offset, length: entry.length }), locations.get(stored[i][0].toString()))
    }
    await store.removePack(1)
    assert.equal(await counted.index.get(tableKey(1)), undefined)
  } finally {
    await store.close()
    await counted.close()
    await cleanup()
  }
})

test('a table that is not one this version wrote is ignored', () => {
  const builder = new PackTableBuilder()
  const cid = chunkCid(seededBytes(1, 100))
  builder.add(cid.bytes, { pack: 3, offset: 41, length: 100 })
  const bytes = builder.encode()
  assert.deepEqual(decodePackTable(bytes), [{ cidBytes: cid.bytes, offset: 41, length: 100 }])
  assert.equal(decodePackTable(bytes.subarray(0, bytes.byteLength - 1)), undefined)
  assert.equal(decodePackTable(Uint8Array.of(2)), undefined)
  assert.equal(decodePackTable(new Uint8Array(0)), undefined)
})
