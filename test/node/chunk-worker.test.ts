/**
 * Large snapshots cut and hash on a worker thread. The worker must be invisible in the
 * result: the same chunks, CIDs and manifest as cutting inline, whatever the layout
 * (files spanning many read buffers, many small files read ahead, folders between them,
 * hard links read inline); and it must never leave a snapshot hanging or a thread behind.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { snapshotVolume, restoreManifest } from '../../node/snapshot/index.ts'
import { WorkerChunker, WorkerReadError } from '../../node/snapshot/worker-chunker.ts'
import { DEFAULT_CHUNKER_PARAMS } from '../../node/chunker/index.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir, writeSampleTree } from '../fixtures/seeded.ts'

async function bothWays (path: string): Promise<{ inline: Awaited<ReturnType<typeof snapshotVolume>>, worker: Awaited<ReturnType<typeof snapshotVolume>>, store: MemoryBlockStore }> {
  const inline = await snapshotVolume(path, { store: new MemoryBlockStore(), chunkWorker: 'never' })
  const store = new MemoryBlockStore()
  const worker = await snapshotVolume(path, { store, chunkWorker: 'always' })
  return { inline, worker, store }
}

test('a tree cut on the worker thread has exactly the manifest of one cut inline, and restores byte for byte', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const src = join(dir, 'src')
    await writeSampleTree(src, { seed: 11, files: 150, maxFileSize: 300_000 })
    // files that span several 4 MiB read buffers, next to small ones and folders
    await writeFile(join(src, 'd0', 'big-a.bin'), seededBytes(5, 9_500_000))
    await mkdir(join(src, 'd0', 'zz-after-big'), { recursive: true })
    await writeFile(join(src, 'd0', 'zz-after-big', 'small.bin'), seededBytes(6, 1000))
    await writeFile(join(src, 'd0', 'zzz-big-b.bin'), seededBytes(7, 4 * 1024 * 1024))
    const { inline, worker, store } = await bothWays(src)
    assert.equal(worker.root.toString(), inline.root.toString())
    assert.deepEqual(worker.stats, inline.stats)
    assert.equal(worker.manifestNodes, inline.manifestNodes)
    const out = join(dir, 'out')
    await restoreManifest(worker.root, out, { store })
    assert.deepEqual(await compareTrees(src, out), [])
  } finally {
    await cleanup()
  }
})

test('an image cut on the worker thread has the CIDs of one cut inline, including a last chunk that ends the file', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const image = join(dir, 'disk.img')
    await writeFile(image, seededBytes(9, 13 * 1024 * 1024 + 12345))
    const { inline, worker } = await bothWays(image)
    assert.equal(worker.root.toString(), inline.root.toString())
    assert.deepEqual(worker.stats, inline.stats)
  } finally {
    await cleanup()
  }
})

test('the worker hands back every chunk of a file with its CID, and names a file it cannot open', async () => {
  const [dir, cleanup] = await tempDir()
  const chunker = new WorkerChunker(DEFAULT_CHUNKER_PARAMS)
  try {
    const bytes = seededBytes(3, 6_000_000)
    await writeFile(join(dir, 'a.bin'), bytes)
    const missing = chunker.enqueue(join(dir, 'missing.bin'), 10)
    const present = chunker.enqueue(join(dir, 'a.bin'), bytes.length)
    await assert.rejects(async () => { for await (const b of chunker.chunks(missing)) b.release() },
      (err: unknown) => err instanceof WorkerReadError && err.code === 'ENOENT')
    let at = 0
    const it = chunker.chunks(present)
    while (true) {
      const next = await it.next()
      if (next.done === true) {
        assert.equal(next.value.read, bytes.length)
        assert.equal(next.value.size, BigInt(bytes.length))
        break
      }
      for (const [cid, chunk] of next.value.blocks) {
        assert.deepEqual(chunk, bytes.subarray(at, at + chunk.length))
        assert.ok(cid.equals(chunkCid(chunk)))
        at += chunk.length
      }
      next.value.release()
    }
    assert.equal(at, bytes.length)
  } finally {
    await chunker.close()
    await cleanup()
  }
})

test('aborting a snapshot that cuts on the worker stops it at once and leaves no thread behind', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const image = join(dir, 'disk.img')
    await writeFile(image, seededBytes(4, 40 * 1024 * 1024))
    const controller = new AbortController()
    await assert.rejects(snapshotVolume(image, {
      store: new MemoryBlockStore(),
      chunkWorker: 'always',
      signal: controller.signal,
      onProgress: p => { if (p.bytes > 4 * 1024 * 1024) controller.abort() }
    }), { name: 'AbortError' })
    // a leaked worker would keep this test's process alive until the runner times out
  } finally {
    await cleanup()
  }
})
