/**
 * Large restores verify and write files on a worker thread. The thread must be invisible
 * in the result: the same bytes, modes, mtimes, symlinks, hard links and holes as writing
 * in place, from a disk store (blocks read unverified, checked on the thread) and from a
 * store without that read (blocks copied to the thread); a corrupt chunk still stops the
 * restore before its bytes reach a file, and nothing is left behind.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, open, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { snapshotVolume, restoreManifest } from '../../node/snapshot/index.ts'
import { openTestDiskStore } from '../fixtures/disk-store.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { cutPoints } from '../../node/chunker/index.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir, writeSampleTree } from '../fixtures/seeded.ts'

/** Zeros (holes) inside, and at the end of, an otherwise random file. */
function withHoles (seed: number, size: number): Uint8Array {
  const bytes = seededBytes(seed, size)
  bytes.fill(0, Math.floor(size / 4), Math.floor(size / 2))
  bytes.fill(0, size - 300_000)
  return bytes
}

async function writeTree (src: string): Promise<void> {
  await writeSampleTree(src, { seed: 23, files: 200, maxFileSize: 400_000 })
  // larger than one 4 MiB read batch, with holes; and one file whose mode the umask would cut
  await writeFile(join(src, 'd1', 'big.bin'), withHoles(31, 9_000_000))
  await writeFile(join(src, 'd1', 'shared.sh'), '#!/bin/sh\n')
  await chmod(join(src, 'd1', 'shared.sh'), 0o777)
  await utimes(join(src, 'd1', 'shared.sh'), 1_500_000_000.25, 1_500_000_000.25)
  await mkdir(join(src, 'locked'))
  await writeFile(join(src, 'locked', 'inside.txt'), 'read-only folder')
  await chmod(join(src, 'locked'), 0o555)
}

test('a tree written by the writer thread equals one written in place, from a disk store and from a memory store', async () => {
  const [dir, cleanup] = await tempDir()
  const [disk, close] = await openTestDiskStore(dir)
  try {
    const src = join(dir, 'src')
    await writeTree(src)
    const memory = new MemoryBlockStore()
    const onDisk = await snapshotVolume(src, { store: disk })
    await disk.flush()
    const inMemory = await snapshotVolume(src, { store: memory })
    assert.equal(onDisk.root.toString(), inMemory.root.toString())
    for (const [name, store, writeWorker] of [['disk-thread', disk, 'always'], ['memory-thread', memory, 'always'], ['disk-in-place', disk, 'never']] as const) {
      const out = join(dir, name)
      const result = await restoreManifest(onDisk.root, out, { store, writeWorker })
      assert.equal(result.bytes, onDisk.size)
      assert.deepEqual(await compareTrees(src, out), [], name)
    }
    // holes stay holes
    const big = await stat(join(dir, 'disk-thread', 'd1', 'big.bin'))
    assert.ok(big.blocks * 512 < big.size - 2_000_000, `big.bin takes ${big.blocks * 512} bytes on disk for ${big.size}`)
  } finally {
    await chmod(join(dir, 'src', 'locked'), 0o755).catch(() => {})
    for (const n of ['disk-thread', 'memory-thread', 'disk-in-place']) await chmod(join(dir, n, 'locked'), 0o755).catch(() => {})
    await close()
    await cleanup()
  }
})

test('an image written by the writer thread has its exact bytes, a trailing hole included', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    const image = join(dir, 'disk.img')
    const bytes = withHoles(41, 12_000_000)
    await writeFile(image, bytes)
    const snap = await snapshotVolume(image, { store })
    await store.flush()
    const out = join(dir, 'out.img')
    await restoreManifest(snap.root, out, { store, writeWorker: 'always' })
    assert.ok((await readFile(out)).equals(bytes))
    assert.equal((await stat(out)).size, bytes.length)
  } finally {
    await close()
    await cleanup()
  }
})

test('a corrupt chunk stops a threaded restore with ERR_HASH_MISMATCH naming it, and leaves nothing behind', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, close] = await openTestDiskStore(dir)
  try {
    const src = join(dir, 'src')
    await mkdir(join(src, 'a'), { recursive: true })
    const small = seededBytes(51, 3000)
    const large = seededBytes(52, 6_000_000)
    await writeFile(join(src, 'a', 'small.bin'), small)
    await writeFile(join(src, 'large.bin'), large)
    const snap = await snapshotVolume(src, { store })
    await store.flush()
    for (const [bytes, name] of [[small, 'small'], [large, 'large']] as const) {
      // flip one byte of the file's last chunk inside its pack (then put it back)
      const lengths = cutPoints(bytes)
      const chunk = bytes.subarray(bytes.length - lengths[lengths.length - 1])
      const cid = chunkCid(chunk)
      const loc = (await store.locate(cid))!
      const packs = await readdir(join(dir, 'packs'))
      const fd = await open(join(dir, 'packs', packs.find(p => parseInt(p, 16) === loc.pack)!), 'r+')
      await fd.write(Buffer.from([chunk[7] ^ 0x01]), 0, 1, loc.offset + 7)
      const dest = join(dir, `restored-${name}`)
      await assert.rejects(restoreManifest(snap.root, dest, { store, writeWorker: 'always' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_HASH_MISMATCH')
        assert.match(err.message, new RegExp(cid.toString()))
        return true
      })
      await fd.write(Buffer.from([chunk[7]]), 0, 1, loc.offset + 7)
      await fd.close()
      await assert.rejects(stat(dest), { code: 'ENOENT' }, 'nothing is left at the destination')
      assert.deepEqual((await readdir(dir)).filter(n => n.includes('rok-restore')), [], 'no temporary folder is left behind')
    }
    // and with the chunk whole again, the same store restores
    await restoreManifest(snap.root, join(dir, 'fine'), { store, writeWorker: 'always' })
    assert.deepEqual(await compareTrees(src, join(dir, 'fine')), [])
  } finally {
    await close()
    await cleanup()
  }
})
