import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkCid, cidKey, type CID } from '../../protocol/cid.ts'
import { MessageType, RUN_ENTRY_FIXED } from '../../protocol/exchange.ts'
import { readU32, writeU32 } from '../../protocol/small-bytes.ts'
import { openDiskStore } from '../../node/store/index.ts'
import { verifyStore } from '../../node/verify.ts'
import { BlockArena } from '../../node/p2p/exchange/block-arena.ts'
import { levelIndex } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

function blocks (seed: number, sizes: number[]): Array<[CID, Uint8Array]> {
  return sizes.map((n, i) => { const b = seededBytes(seed + i, n); return [chunkCid(b), b] })
}

/** A RUN frame's body as the data channel receives it: in arena memory, entries as a pack holds them. */
function receivedRun (arena: BlockArena, run: Array<[CID, Uint8Array]>): { body: Uint8Array, blocks: Array<[CID, Uint8Array]> } {
  const size = 1 + run.reduce((n, [cid, b]) => n + RUN_ENTRY_FIXED + cid.bytes.byteLength + b.byteLength, 0)
  const body = arena.allocate(size, 1)
  body[0] = MessageType.RUN
  const placed: Array<[CID, Uint8Array]> = []
  let at = 1
  for (const [cid, bytes] of run) {
    writeU32(body, at, bytes.byteLength)
    body[at + 4] = cid.bytes.byteLength
    body.set(cid.bytes, at + RUN_ENTRY_FIXED)
    at += RUN_ENTRY_FIXED + cid.bytes.byteLength
    body.set(bytes, at)
    placed.push([cid, body.subarray(at, at + bytes.byteLength)])
    at += bytes.byteLength
  }
  return { body, blocks: placed }
}

/** Every entry of every pack in `dir`, in file order: a block's CID key, or 'padding'. */
async function packEntries (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    const pack = await readFile(join(dir, name))
    for (let at = 0; at < pack.byteLength;) {
      const length = readU32(pack, at)
      const cidLength = pack[at + 4]
      const data = pack.subarray(at + RUN_ENTRY_FIXED + cidLength, at + RUN_ENTRY_FIXED + cidLength + length)
      assert.equal(data.byteLength, length, `${name}: the entry at ${at} runs past the end of the pack`)
      if (cidLength === 0) out.push('padding')
      else {
        const cidBytes = pack.subarray(at + RUN_ENTRY_FIXED, at + RUN_ENTRY_FIXED + cidLength)
        assert.deepEqual(chunkCid(data).bytes, new Uint8Array(cidBytes), `${name}: the entry at ${at} holds bytes that match its CID`)
        out.push(cidKey(cidBytes))
      }
      at += RUN_ENTRY_FIXED + cidLength + length
    }
  }
  return out
}

test('a fetched run goes to the pack from the memory it was received in, padded to a page, and every block reads back after reopening', async () => {
  const [dir, cleanup] = await tempDir()
  const packs = join(dir, 'packs')
  let db = await levelIndex(dir)
  try {
    let store = await openDiskStore({ dir: packs, index: db.index, writeBufferSize: 64 * 1024, packTargetSize: 256 * 1024 })
    const arena = new BlockArena({ shared: true })
    const all: Array<[CID, Uint8Array]> = []
    for (let round = 0; round < 6; round++) {
      // blocks put one by one leave the pack off a page: the run after them must pad first
      const single = blocks(1000 + round, [3000 + round * 777])
      await store.put(single[0][0], single[0][1])
      const run = blocks(round * 100, [16_384, 4096, 1, 10_000 + round, 16_384])
      const { body, blocks: received } = receivedRun(arena, run)
      const span = arena.pageSpan(body, 1)
      assert.ok(span !== undefined, 'the arena placed the entries on a page, with room after them')
      assert.deepEqual(await store.putRun(span, body.byteLength - 1, received, { absent: true }), run.map(() => true))
      // the memory is the caller's again: reused at once, as the arena does
      span.fill(0xee)
      for (const [, bytes] of received) arena.release(bytes)
      for (const [cid, bytes] of run) assert.deepEqual(await store.get(cid), bytes)
      const after = blocks(2000 + round, [5000])
      await store.putMany(after, { absent: true })
      all.push(...single, ...run, ...after)
      if (round % 2 === 1) await store.flush()
    }
    await store.close()
    await db.close()

    const entries = await packEntries(packs)
    const stored = entries.filter(e => e !== 'padding')
    assert.deepEqual(new Set(stored), new Set(all.map(([cid]) => cidKey(cid.bytes))), 'each block is in a pack once, behind its own header')
    assert.equal(stored.length, all.length)
    assert.ok(entries.length - stored.length >= 6, 'runs were padded to pages, so they were written as they lay')

    db = await levelIndex(dir)
    store = await openDiskStore({ dir: packs, index: db.index, writeBufferSize: 64 * 1024, packTargetSize: 256 * 1024 })
    for (const [cid, bytes] of all) assert.deepEqual(await store.get(cid), bytes)
    // `rok verify`'s check: every index entry and pack table agrees with the bytes
    const report = await verifyStore({ store, buckets: { async * all () {} } })
    assert.equal(report.ok, true, JSON.stringify(report.damaged))
    assert.equal(report.blocks, all.length)
    await store.close()
  } finally {
    await db.close()
    await cleanup()
  }
})

test('a run not in page-placed memory, or not known absent, is stored by copying its blocks', async () => {
  const [dir, cleanup] = await tempDir()
  const packs = join(dir, 'packs')
  const db = await levelIndex(dir)
  try {
    const store = await openDiskStore({ dir: packs, index: db.index, writeBufferSize: 64 * 1024 })
    // memory that is not page-placed (an arena of unshared slabs), given with no room after it
    const unplaced = receivedRun(new BlockArena(), blocks(0, [16_384, 700]))
    assert.deepEqual(await store.putRun(unplaced.body.subarray(1), unplaced.body.byteLength - 1, unplaced.blocks, { absent: true }), [true, true])
    // page-placed, but from a caller that did not look first: the store looks, and writes nothing twice
    const arena = new BlockArena({ shared: true })
    const placed = receivedRun(arena, blocks(10, [16_384, 900]))
    const span = arena.pageSpan(placed.body, 1)
    assert.ok(span !== undefined)
    assert.deepEqual(await store.putRun(span, placed.body.byteLength - 1, placed.blocks), [true, true])
    assert.deepEqual(await store.putRun(span, placed.body.byteLength - 1, placed.blocks), [false, false])
    for (const [cid, bytes] of [...unplaced.blocks, ...placed.blocks]) assert.deepEqual(await store.get(cid), bytes)
    await store.close()
    assert.ok(!(await packEntries(packs)).includes('padding'), 'nothing was padded')
  } finally {
    await db.close()
    await cleanup()
  }
})
