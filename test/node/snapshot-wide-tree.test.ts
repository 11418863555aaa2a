/**
 * Folder snapshots store several files at once and list the next subfolders while one is
 * stored; restores create files with their mode. None of that may show in the result: the
 * manifest is the same however the bytes were read, entries stay in name order, and a
 * restore gives back every byte, mode and link exactly.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { link, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { snapshotVolume, restoreManifest } from '../../node/snapshot/index.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

/** 2,400 files of 0–3 KB in 3 levels of folders, with links and a few larger files among them. */
async function wideTree (root: string): Promise<void> {
  let seed = 0
  for (let a = 0; a < 6; a++) {
    for (let b = 0; b < 8; b++) {
      const dir = join(root, `top-${a}`, `mid-${b}`)
      await mkdir(dir, { recursive: true })
      for (let f = 0; f < 50; f++) await writeFile(join(dir, `f${String(f).padStart(3, '0')}.txt`), seededBytes(++seed, (seed * 37) % 3000))
      await writeFile(join(dir, 'large.bin'), seededBytes(++seed, 200_000 + seed))
      await symlink(`f00${b % 10}.txt`, join(dir, 'link-to-a-file'))
    }
    // a folder between files of its parent, and a hard link across folders
    await mkdir(join(root, `top-${a}`, 'mid-3', 'nested'), { recursive: true })
    await writeFile(join(root, `top-${a}`, 'mid-3', 'nested', 'inner.txt'), seededBytes(++seed, 4000))
    await link(join(root, `top-${a}`, 'mid-0', 'f001.txt'), join(root, `top-${a}`, 'mid-7', 'hard-link.txt'))
  }
}

test('a wide tree of thousands of tiny files snapshots to the same manifest read inline or on the worker, and restores exactly', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const src = join(dir, 'src')
    await wideTree(src)
    const inline = await snapshotVolume(src, { store: new MemoryBlockStore(), chunkWorker: 'never' })
    const store = new MemoryBlockStore()
    const worker = await snapshotVolume(src, { store, chunkWorker: 'always' })
    assert.equal(worker.root.toString(), inline.root.toString())
    assert.deepEqual(worker.stats, inline.stats)
    assert.equal(worker.files, 6 * (8 * 51 + 1)) // a hard link counts once, as its first path
    const out = join(dir, 'out')
    await restoreManifest(worker.root, out, { store })
    assert.deepEqual(await compareTrees(src, out), [])
  } finally {
    await cleanup()
  }
})

test('a filter leaves out a folder listed ahead, and the rest keeps its order and bytes', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const src = join(dir, 'src')
    await wideTree(src)
    const store = new MemoryBlockStore()
    const filter = (rel: string): boolean => !rel.startsWith('top-2/mid-5') && !rel.endsWith('f010.txt')
    const result = await snapshotVolume(src, { store, filter, chunkWorker: 'always' })
    const out = join(dir, 'out')
    await restoreManifest(result.root, out, { store })
    const differences = await compareTrees(src, out)
    const left = ['top-2/mid-5']
    for (let a = 0; a < 6; a++) for (let b = 0; b < 8; b++) if (a !== 2 || b !== 5) left.push(`top-${a}/mid-${b}/f010.txt`)
    assert.deepEqual(differences.map(d => `${d.path} ${d.what}`).sort(), left.map(p => `${p} missing`).sort())
  } finally {
    await cleanup()
  }
})

test('restored files get their recorded modes whatever the umask', async () => {
  const [dir, cleanup] = await tempDir()
  const old = process.umask(0o077)
  try {
    const src = join(dir, 'src')
    await mkdir(src)
    const modes = [0o644, 0o755, 0o600, 0o444, 0o640, 0o4755]
    for (const [i, mode] of modes.entries()) await writeFile(join(src, `m${i}`), seededBytes(i, 100), { mode })
    const { chmod } = await import('node:fs/promises')
    for (const [i, mode] of modes.entries()) await chmod(join(src, `m${i}`), mode)
    const store = new MemoryBlockStore()
    const result = await snapshotVolume(src, { store })
    const out = join(dir, 'out')
    await restoreManifest(result.root, out, { store })
    assert.deepEqual(await compareTrees(src, out), [])
  } finally {
    process.umask(old)
    await cleanup()
  }
})
