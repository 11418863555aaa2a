import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { openDiskStore, type BinaryIndex } from '../../node/store/index.ts'
import { alignedBuffer } from '../../node/store/aligned-buffer.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const BUFFER = 64 * 1024

async function levelIndex (dir: string): Promise<{ index: BinaryIndex, close: () => Promise<void> }> {
  const db = new Level<Uint8Array, Uint8Array>(join(dir, 'index'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return { index: db as unknown as BinaryIndex, close: async () => { await db.close() } }
}

/** Sizes that cross the 4 KiB blocks of direct I/O and the 64 KiB write buffer in every way. */
const SIZES = [1, 4095, 4096, 4097, 10_000, BUFFER - 50, BUFFER, BUFFER + 1, 3 * BUFFER + 123, 777, 16_384]

function blocks (seed: number): Array<[CID, Uint8Array]> {
  return SIZES.map((n, i) => { const b = seededBytes(seed + i, n); return [chunkCid(b), b] })
}

async function packBytes (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

test('packs written with O_DIRECT hold every block exactly, whatever its size and wherever a flush falls, and read back after reopening', async () => {
  const [dir, cleanup] = await tempDir()
  const packs = join(dir, 'packs')
  let db = await levelIndex(dir)
  try {
    let store = await openDiskStore({ dir: packs, index: db.index, writeBufferSize: BUFFER, packTargetSize: 256 * 1024 })
    const all: Array<[CID, Uint8Array]> = []
    for (let round = 0; round < 3; round++) {
      const batch = blocks(round * 100)
      for (const [i, [cid, bytes]] of batch.entries()) {
        await store.put(cid, bytes)
        // a read of a block still in the buffer makes the store write its unaligned end
        if (i % 4 === 1) assert.deepEqual(await store.get(cid), bytes)
        if (i % 5 === 2) await store.flush()
      }
      all.push(...batch)
    }
    await store.flush()
    for (const [cid, bytes] of all) assert.deepEqual(await store.get(cid), bytes)
    await store.close()
    await db.close()

    // nothing but entries in the files: a padded end is cut back, not left as junk
    const payload = all.reduce((n, [cid, b]) => n + b.byteLength + cid.bytes.byteLength, 0)
    const onDisk = await packBytes(packs)
    assert.ok(onDisk > payload && onDisk < payload + all.length * 64, `packs hold ${onDisk} bytes for ${payload} of blocks and CIDs`)
    assert.ok((await readdir(packs)).length > 1, 'the blocks fill more than one pack')

    db = await levelIndex(dir)
    store = await openDiskStore({ dir: packs, index: db.index, writeBufferSize: BUFFER })
    for (const [cid, bytes] of all) assert.deepEqual(await store.get(cid), bytes)
    // new puts go into a new pack after a reopen, direct too
    const more = blocks(1000)
    await store.putMany!(more)
    await store.flush()
    for (const [cid, bytes] of [...all, ...more]) assert.deepEqual(await store.get(cid), bytes)
    await store.close()
  } finally {
    await db.close().catch(() => {})
    await cleanup()
  }
})

test('the same blocks written without O_DIRECT give byte-identical packs', async () => {
  const [dir, cleanup] = await tempDir()
  const contents: Buffer[] = []
  try {
    for (const directWrites of [true, false]) {
      const sub = join(dir, String(directWrites))
      const db = await levelIndex(sub)
      const store = await openDiskStore({ dir: join(sub, 'packs'), index: db.index, writeBufferSize: BUFFER, directWrites })
      for (const [cid, bytes] of blocks(7)) await store.put(cid, bytes)
      await store.flush()
      await store.close()
      await db.close()
      const names = (await readdir(join(sub, 'packs'))).sort()
      contents.push(Buffer.concat(await Promise.all(names.map(async n => await readFile(join(sub, 'packs', n))))))
    }
    assert.ok(contents[0].byteLength > 0)
    assert.ok(contents[0].equals(contents[1]), `direct ${contents[0].byteLength} bytes, buffered ${contents[1].byteLength}`)
  } finally {
    await cleanup()
  }
})

test('runs read into page-aligned memory come back exact from sealed, current and plainly written packs, and a cut pack is reported', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    for (const directWrites of [true, false]) {
      const sub = join(dir, String(directWrites))
      const db = await levelIndex(sub)
      const store = await openDiskStore({ dir: join(sub, 'packs'), index: db.index, writeBufferSize: BUFFER, packTargetSize: 128 * 1024, directWrites })
      const all = [...blocks(11), ...blocks(22), ...blocks(33)]
      for (const [cid, bytes] of all) await store.put(cid, bytes)
      await store.flush()
      const sizes: number[] = []
      const allocate = (n: number): Uint8Array => { sizes.push(n); return alignedBuffer(n) }
      const orders = [all, all.filter((_, i) => i % 2 === 1), [...all].reverse(), ...all.map(b => [b])]
      for (const order of orders) {
        const got = await store.getManyUnverified!(order.map(([cid]) => cid), { allocate, pageAligned: true })
        for (const [i, [cid, bytes]] of order.entries()) assert.deepEqual(got[i], bytes, `block ${cid.toString()} (${bytes.byteLength} bytes)`)
      }
      // whole pages were asked for: the reads were widened for O_DIRECT, and O_DIRECT handles were opened;
      // short runs (single blocks) went through the page cache into memory of their own
      assert.ok(sizes.some(n => n % 4096 === 0 && n > 0))
      assert.ok(sizes.every(n => n >= 256 * 1024), `a short run took a run buffer: ${sizes.filter(n => n < 256 * 1024).join(', ')}`)
      assert.ok((store as unknown as { directReaders: Map<number, unknown> }).directReaders.size > 0, 'no pack was read with O_DIRECT')
      await store.close()
      await db.close()
    }

    // a pack cut short under the index: the missing block is named, not returned as junk
    const sub = join(dir, 'cut')
    const db = await levelIndex(sub)
    const store = await openDiskStore({ dir: join(sub, 'packs'), index: db.index, writeBufferSize: BUFFER, packTargetSize: 512 * 1024 })
    const all = [...blocks(44), ...blocks(55), ...blocks(66)]
    for (const [cid, bytes] of all) await store.put(cid, bytes)
    await store.flush()
    const first = (await readdir(join(sub, 'packs'))).sort()[0]
    const path = join(sub, 'packs', first)
    await truncate(path, (await stat(path)).size - 10)
    await assert.rejects(store.getManyUnverified!(all.map(([cid]) => cid), { allocate: alignedBuffer, pageAligned: true }), { code: 'ERR_PACK_DAMAGED' })
    assert.ok((store as unknown as { directReaders: Map<number, unknown> }).directReaders.size > 0, 'the cut pack was not read with O_DIRECT')
    await store.close()
    await db.close()
  } finally {
    await cleanup()
  }
})

test('runs read with their entry headers: every block sits right behind its own pack entry header, read direct or through the page cache', async () => {
  const [dir, cleanup] = await tempDir()
  const db = await levelIndex(dir)
  try {
    const store = await openDiskStore({ dir: join(dir, 'packs'), index: db.index, writeBufferSize: BUFFER, packTargetSize: 128 * 1024 })
    const all = [...blocks(77), ...blocks(88)]
    for (const [cid, bytes] of all) await store.put(cid, bytes)
    await store.flush()
    const orders = [all, all.filter((_, i) => i % 3 !== 1), [...all].reverse()]
    for (const into of [{ allocate: alignedBuffer, pageAligned: true }, {}]) {
      for (const order of orders) {
        const got = await store.getManyUnverified!(order.map(([cid]) => cid), { ...into, entryHeaders: true })
        for (const [i, [cid, bytes]] of order.entries()) {
          assert.deepEqual(got[i], bytes)
          const header = new Uint8Array(got[i].buffer, got[i].byteOffset - 5 - cid.bytes.byteLength, 5 + cid.bytes.byteLength)
          assert.equal(Buffer.from(header.subarray(0, 4)).readUInt32BE(0), bytes.byteLength, `the length in front of ${cid.toString()}`)
          assert.equal(header[4], cid.bytes.byteLength)
          assert.deepEqual(header.subarray(5), cid.bytes, `the CID in front of block ${i}`)
        }
      }
    }
    await store.close()
  } finally {
    await db.close()
    await cleanup()
  }
})
