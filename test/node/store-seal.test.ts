import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { openDiskStore, type BinaryIndex } from '../../node/store/index.ts'
import { levelIndex } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const PACK = 64 * 1024
const BLOCK = 20_000

/** The store's level index, with its batches held back (or failed) on demand. */
async function gatedIndex (dir: string): Promise<{ index: BinaryIndex, hold: () => void, release: () => void, failNext: (err: Error) => void, close: () => Promise<void> }> {
  let gate: Promise<void> | undefined
  let open = (): void => {}
  let failure: Error | undefined
  const { index, close } = await levelIndex(dir, {
    batch: async () => {
      if (failure !== undefined) { const err = failure; failure = undefined; throw err }
      await gate
    }
  })
  return {
    index,
    hold: () => { gate = new Promise(resolve => { open = resolve }) },
    release: () => { gate = undefined; open() },
    failNext: err => { failure = err },
    close
  }
}

function blocks (from: number, n: number): Array<[CID, Uint8Array]> {
  return Array.from({ length: n }, (_, i) => { const b = seededBytes(from + i, BLOCK); return [chunkCid(b), b] })
}

/** Whether `p` settles within `ms`. */
async function settlesWithin (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>(resolve => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

test('puts go on into the next pack while a full one is made durable and indexed, and a flush waits for it', async () => {
  const [dir, cleanup] = await tempDir()
  const gated = await gatedIndex(dir)
  let store = await openDiskStore({ dir: join(dir, 'packs'), index: gated.index, packTargetSize: PACK })
  try {
    const first = blocks(0, 4) // 80 kB: the fifth put starts a second pack
    for (const [cid, bytes] of first) assert.equal(await store.put(cid, bytes), true)
    gated.hold()
    const next = blocks(100, 4)
    // the first of these seals the full pack: with the index held, it must not wait for it
    assert.equal(await settlesWithin(store.putMany(next), 2000), true, 'puts wait for the full pack to be indexed')
    assert.equal((await readdir(join(dir, 'packs'))).length, 2)
    // blocks of the pack being sealed are present and readable meanwhile
    for (const [cid, bytes] of [...first, ...next]) {
      assert.equal(await store.has(cid), true)
      assert.deepEqual(await store.get(cid), bytes)
    }
    assert.equal(await store.put(first[0][0], first[0][1]), false, 'a block of the pack being sealed is not written again')
    const flushed = store.flush()
    assert.equal(await settlesWithin(flushed, 200), false, 'a flush returned before the full pack was indexed')
    gated.release()
    await flushed
    await store.close()
    store = await openDiskStore({ dir: join(dir, 'packs'), index: gated.index, packTargetSize: PACK })
    for (const [cid, bytes] of [...first, ...next]) assert.deepEqual(await store.get(cid), bytes)
  } finally {
    gated.release()
    await store.close()
    await gated.close()
    await cleanup()
  }
})

test('a full pack that cannot be indexed fails the next flush, and its blocks are not reported stored', async () => {
  const [dir, cleanup] = await tempDir()
  const gated = await gatedIndex(dir)
  const store = await openDiskStore({ dir: join(dir, 'packs'), index: gated.index, packTargetSize: PACK })
  try {
    const first = blocks(0, 4)
    for (const [cid, bytes] of first) await store.put(cid, bytes)
    gated.failNext(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))
    const next = blocks(100, 2)
    await store.putMany(next).catch(() => {}) // starts the seal, which fails in the background
    await assert.rejects(store.flush(), { code: 'ERR_DISK_FULL' })
    for (const [cid] of first) assert.equal(await store.has(cid), false, 'a block of the failed pack is reported stored')
    // reported once: the store goes on, and what is put again is stored
    for (const [cid, bytes] of first) assert.equal(await store.put(cid, bytes), true)
    await store.flush()
    for (const [cid, bytes] of first) assert.deepEqual(await store.get(cid), bytes)
  } finally {
    await store.close()
    await gated.close()
    await cleanup()
  }
})

test('a flush of many small blocks indexes them in bounded batches, the last one synced, and every block is found after reopening', async () => {
  const [dir, cleanup] = await tempDir()
  const batches: Array<{ ops: number, sync: boolean }> = []
  const { index, close } = await levelIndex(dir, { batch: (ops, options) => { batches.push({ ops: ops.length, sync: options?.sync === true }) } })
  try {
    // 10,000 small files' blocks in one pack: one batch of them all held the event loop for ~30 ms
    const stored = Array.from({ length: 10_000 }, (_, i): [CID, Uint8Array] => { const b = seededBytes(i, 40); return [chunkCid(b), b] })
    const store = await openDiskStore({ dir: join(dir, 'packs'), index })
    await store.putMany(stored)
    await store.flush()
    await store.close()
    assert.ok(batches.length >= 3, `${batches.length} batches`)
    assert.ok(batches.every(b => b.ops <= 4096), batches.map(b => b.ops).join(' '))
    assert.deepEqual(batches.map(b => b.sync), batches.map((_, i) => i === batches.length - 1), 'only the last batch waits for the disk')
    const reopened = await openDiskStore({ dir: join(dir, 'packs'), index })
    try {
      const found = await reopened.hasMany(stored.map(([cid]) => cid))
      assert.equal(found.filter(Boolean).length, stored.length)
      assert.deepEqual(await reopened.get(stored[9_999][0]), stored[9_999][1])
    } finally {
      await reopened.close()
    }
  } finally {
    await close()
    await cleanup()
  }
})

test('a full pack whose later index batch fails keeps the blocks its earlier batch indexed, and the rest are not reported stored', async () => {
  const [dir, cleanup] = await tempDir()
  let batches = 0
  // the full pack's second batch of entries fails, as on a disk that filled up
  const { index, close } = await levelIndex(dir, { batch: () => { if (++batches === 2) throw new Error('disk full') } })
  // ~6,000 blocks of 40 bytes (81 with their headers) in a 400 kB pack: ~4,900 in the full pack
  const stored = Array.from({ length: 6_000 }, (_, i): [CID, Uint8Array] => { const b = seededBytes(i, 40); return [chunkCid(b), b] })
  const store = await openDiskStore({ dir: join(dir, 'packs'), index, packTargetSize: 400_000 })
  try {
    await store.putMany(stored)
    await assert.rejects(store.flush(), /disk full/)
    const found = await store.hasMany(stored.map(([cid]) => cid))
    const first = found.indexOf(false)
    assert.equal(first, 4096, 'the first batch of the full pack is indexed, the second is not')
    for (const i of [0, 2048, 4095]) assert.deepEqual(await store.get(stored[i][0]), stored[i][1], `block ${i} is whole`)
    // what was not indexed is stored again by the write that is rerun
    await store.putMany(stored)
    await store.flush()
    assert.ok((await store.hasMany(stored.map(([cid]) => cid))).every(Boolean))
    for (const i of [0, 4096, 5999]) assert.deepEqual(await store.get(stored[i][0]), stored[i][1])
  } finally {
    await store.close()
    await close()
    await cleanup()
  }
})
