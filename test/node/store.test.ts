import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat, open } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkCid } from '../../protocol/cid.ts'
import { openTestDiskStore } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('putting a chunk that is already stored writes nothing', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    const bytes = seededBytes(1, 100_000)
    const cid = chunkCid(bytes)
    assert.equal(await store.put(cid, bytes), true)
    await store.flush()
    const packs = await readdir(join(dir, 'packs'))
    const size = (await stat(join(dir, 'packs', packs[0]))).size
    assert.equal(await store.put(cid, bytes), false)
    assert.equal(await store.put(cid, bytes), false)
    await store.flush()
    assert.equal((await stat(join(dir, 'packs', packs[0]))).size, size)
    assert.deepEqual(await store.get(cid), bytes)
  } finally {
    await close()
    await cleanup()
  }
})

test('thousands of small chunks go into a few pack files, not one file each', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir, 1024 * 1024)
  try {
    const cids = []
    for (let i = 0; i < 3000; i++) {
      const bytes = seededBytes(i, 1000)
      const cid = chunkCid(bytes)
      cids.push(cid)
      await store.put(cid, bytes)
    }
    await store.flush()
    const packs = await readdir(join(dir, 'packs'))
    assert.ok(packs.length <= 4, `${packs.length} pack files for 3000 chunks`)
    for (const [i, cid] of cids.entries()) if (i % 97 === 0) assert.deepEqual(await store.get(cid), seededBytes(i, 1000))
  } finally {
    await close()
    await cleanup()
  }
})

test('blocks are readable before a flush, and durable after reopening', async () => {
  const [dir, cleanup] = await tempDir()
  let [store, close] = await openTestDiskStore(dir)
  const bytes = seededBytes(9, 70_000)
  const cid = chunkCid(bytes)
  try {
    await store.put(cid, bytes)
    assert.deepEqual(await store.get(cid), bytes)
    await close();
    [store, close] = await openTestDiskStore(dir)
    assert.equal(await store.has(cid), true)
    assert.deepEqual(await store.get(cid), bytes)
  } finally {
    await close()
    await cleanup()
  }
})

test('a corrupted block is refused on read, never returned', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    const bytes = seededBytes(3, 50_000)
    const cid = chunkCid(bytes)
    await store.put(cid, bytes)
    await store.flush()
    const loc = await store.locate(cid)
    const packs = await readdir(join(dir, 'packs'))
    const fd = await open(join(dir, 'packs', packs[0]), 'r+')
    await fd.write(Buffer.from([bytes[10] ^ 0xff]), 0, 1, loc!.offset + 10)
    await fd.close()
    await assert.rejects(store.get(cid), { code: 'ERR_HASH_MISMATCH' })
  } finally {
    await close()
    await cleanup()
  }
})

test('a missing block is a clear not-found error', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    await assert.rejects(store.get(chunkCid(new Uint8Array([1, 2, 3]))), { code: 'ERR_BLOCK_NOT_FOUND' })
  } finally {
    await close()
    await cleanup()
  }
})

test('puts and reads asked at the same time each get their own answer: a shared block is written once', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    const blocks = Array.from({ length: 400 }, (_, i) => { const b = seededBytes(1000 + i, 500 + i * 7); return [chunkCid(b), b] as [ReturnType<typeof chunkCid>, Uint8Array] })
    // 40 callers at once, each putting an overlapping slice (every block is in two slices)
    const slices = Array.from({ length: 40 }, (_, k) => [...blocks.slice(k * 10, k * 10 + 10), ...blocks.slice(((k + 1) % 40) * 10, ((k + 1) % 40) * 10 + 10)])
    const wrote = await Promise.all(slices.map(async s => await store.putMany(s)))
    assert.equal(wrote.flat().filter(Boolean).length, blocks.length, 'each distinct block written exactly once')
    await store.flush()
    // and 40 readers at once, each asking for its own slice in reverse order
    const read = await Promise.all(slices.map(async s => await store.getMany(s.map(([cid]) => cid).reverse())))
    for (const [k, s] of slices.entries()) assert.deepEqual(read[k], s.map(([, bytes]) => bytes).reverse())
    const found = await Promise.all(blocks.map(async ([cid]) => await store.has(cid)))
    assert.ok(found.every(Boolean))
  } finally {
    await close()
    await cleanup()
  }
})
