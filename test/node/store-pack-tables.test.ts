import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { openDiskStore, type BinaryIndex, type DiskBlockStore } from '../../node/store/index.ts'
import { PackTableBuilder, packFileName, packTableEntries, tableKey } from '../../node/store/pack-format.ts'
import { verifyStore } from '../../node/verify.ts'
import { levelIndex } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const PACK = 64 * 1024
const BLOCK = 8000

/** The store's level index, counting the block keys looked up. */
async function countingIndex (dir: string): Promise<{ index: BinaryIndex, looked: () => number, close: () => Promise<void> }> {
  let looked = 0
  const { index, close } = await levelIndex(dir, { getMany: keys => { looked += keys.length } })
  return { index, looked: () => looked, close }
}

/** A store of small packs over a counting index, closed and removed afterwards. */
async function withStore (fn: (store: DiskBlockStore, counted: { index: BinaryIndex, looked: () => number }, dir: string) => Promise<void>): Promise<void> {
  const [dir, cleanup] = await tempDir()
  const counted = await countingIndex(dir)
  const store = await openDiskStore({ dir: join(dir, 'packs'), index: counted.index, packTargetSize: PACK })
  try {
    await fn(store, counted, dir)
  } finally {
    await store.close()
    await counted.close()
    await cleanup()
  }
}

/** A stored table's entries as plain values. */
function decodePackTable (table: Uint8Array): Array<{ cidBytes: Uint8Array, offset: number, length: number }> | undefined {
  return packTableEntries(table, 0)?.map(({ cidBytes, location }) => ({ cidBytes, offset: location.offset, length: location.length }))
}

function blocks (from: number, n: number): Array<[CID, Uint8Array]> {
  return Array.from({ length: n }, (_, i) => { const b = seededBytes(from + i, BLOCK); return [chunkCid(b), b] })
}

test('serving a version in the order it was stored looks up about one block per pack in the index, not every block', async () => {
  await withStore(async (store, counted, dir) => {
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
  })
})

test('blocks gc moves out of a pack it then removes are read from their new place', async () => {
  await withStore(async (store, counted, dir) => {
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
  })
})

test('a sealed pack\'s table lists every block in it and goes when the pack is removed', async () => {
  await withStore(async (store, counted, dir) => {
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
  })
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

const NO_VERSIONS = { async * all () {} }

/** A table like the one stored for `pack`, with each entry passed through `change`. */
function rewrittenTable (table: Uint8Array, pack: number, change: (entry: { cidBytes: Uint8Array, location: { pack: number, offset: number, length: number } }, i: number) => { offset: number, length: number }): Uint8Array {
  const builder = new PackTableBuilder()
  for (const [i, entry] of packTableEntries(table, pack)!.entries()) builder.add(entry.cidBytes, { pack, ...change(entry, i) })
  return builder.encode()
}

test('rok verify finds a table of contents that misplaces a block, drops it, and the block is then served right', async () => {
  await withStore(async (store, counted, dir) => {
    const stored = blocks(300, 20)
    await store.putMany(stored)
    await store.flush()
    assert.deepEqual(await verifyStore({ store, buckets: NO_VERSIONS }), { ok: true, blocks: 20, bytes: 20 * BLOCK, versions: 0, damaged: [] })
    // the table of pack 2 swaps where its first two blocks lie
    const table = (await store.packTable(2))!
    const entries = packTableEntries(table, 2)!
    const swapped = rewrittenTable(table, 2, (e, i) => i === 0 ? entries[1].location : i === 1 ? entries[0].location : e.location)
    await counted.index.batch([{ type: 'put', key: tableKey(2), value: swapped }])
    const misplaced = stored[9][0]
    const served = await store.getManyUnverified([misplaced], { packTables: true })
    await new Promise(resolve => setTimeout(resolve, 20)) // pack 2's table is read meanwhile
    assert.deepEqual(served[0], stored[9][1])
    assert.notDeepEqual((await store.getManyUnverified([stored[10][0]], { packTables: true }))[0], stored[10][1], 'the damaged table is what is served from')

    const report = await verifyStore({ store, buckets: NO_VERSIONS })
    assert.equal(report.ok, false)
    assert.equal(report.damaged.length, 1)
    assert.equal(report.damaged[0].problem, 'table')
    assert.equal(report.damaged[0].cid, stored[9][0].toString())
    assert.match(report.damaged[0].detail!, new RegExp(`${packFileName(2)}'s table of contents puts .* the index at offset .*; the table was dropped`))
    assert.equal(await store.packTable(2), undefined)
    assert.deepEqual((await store.getManyUnverified([stored[10][0]], { packTables: true }))[0], stored[10][1])
    assert.equal((await verifyStore({ store, buckets: NO_VERSIONS })).ok, true)
  })
})

test('rok verify accepts a table listing blocks gc moved elsewhere while their old bytes are whole, and not once they are overwritten', async () => {
  await withStore(async (store, counted, dir) => {
    const stored = blocks(400, 12)
    await store.putMany(stored)
    await store.flush()
    const firstPack = []
    for await (const b of store.blocks()) if (b.location.pack === 1) firstPack.push(b)
    await store.moveBlocks(firstPack.slice(0, 3))
    assert.equal((await verifyStore({ store, buckets: NO_VERSIONS })).ok, true)
    // a moved block's old place in pack 1, which its table still names, goes bad
    const moved = firstPack[0]
    const handle = await open(join(dir, 'packs', packFileName(1)), 'r+')
    await handle.write(Buffer.alloc(16, 0xee), 0, 16, moved.location.offset)
    await handle.close()
    const report = await verifyStore({ store, buckets: NO_VERSIONS })
    assert.equal(report.damaged.length, 1, JSON.stringify(report.damaged))
    assert.equal(report.damaged[0].problem, 'table')
    assert.equal(report.damaged[0].cid, moved.cid.toString())
    assert.match(report.damaged[0].detail!, /where other bytes lie/)
  })
})

test('rok verify names the pack whose table of contents is malformed', async () => {
  await withStore(async (store, counted, dir) => {
    await store.putMany(blocks(500, 12))
    await store.flush()
    const table = (await store.packTable(1))!
    await counted.index.batch([{ type: 'put', key: tableKey(1), value: table.subarray(0, table.byteLength - 3) }])
    const report = await verifyStore({ store, buckets: NO_VERSIONS })
    assert.deepEqual(report.damaged.map(d => [d.problem, d.cid]), [['table', packFileName(1)]])
    assert.equal(await store.packTable(1), undefined)
  })
})

test('rok verify --repair unindexes a rotten block and drops its pack\'s table, so this node serves it from nowhere', async () => {
  await withStore(async (store, counted, dir) => {
    const stored = blocks(600, 12)
    await store.putMany(stored)
    await store.flush()
    const rotten = stored[2]
    const loc = (await store.locate(rotten[0]))!
    assert.notEqual(await store.packTable(loc.pack), undefined, 'its pack is sealed, with a table')
    const handle = await open(join(dir, 'packs', packFileName(loc.pack)), 'r+')
    await handle.write(Buffer.alloc(16, 0xee), 0, 16, loc.offset)
    await handle.close()
    const marked: string[] = []
    const report = await verifyStore({ store, buckets: NO_VERSIONS, repair: { markDamaged: async (bucket, seq) => { marked.push(`${bucket}@${seq}`) } } })
    assert.deepEqual(report.damaged.map(d => [d.problem, d.cid]), [['corrupt', rotten[0].toString()]])
    assert.deepEqual(report.repaired, { unindexed: 1, versions: [] })
    assert.deepEqual(marked, [], 'no version holds it')
    assert.equal(await store.has(rotten[0]), false)
    assert.equal(await store.packTable(loc.pack), undefined)
    await assert.rejects(store.getManyUnverified([rotten[0]], { packTables: true }), /is not in the store/, 'not served from the table either')
    assert.deepEqual(await store.getManyUnverified([stored[3][0]], { packTables: true }), [stored[3][1]], 'its neighbours are, through the index')
    assert.equal((await verifyStore({ store, buckets: NO_VERSIONS })).ok, true)
  })
})
