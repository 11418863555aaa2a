import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openEngine } from '../../node/engine.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('a second snapshot reuses unchanged files without reading them, but catches an edit that kept the mtime', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(join(src, 'sub'), { recursive: true })
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'sub', `f${i}.bin`), seededBytes(i, 50_000))
    await writeFile(join(src, 'sneaky.bin'), seededBytes(99, 50_000))
    await sleep(1100) // files must be older than the snapshot's start by the ctime margin
    const v1 = await engine.snapshot(src, { bucket: 'reuse/tree' })
    assert.equal(v1.reusedBytes, 0)

    // Same size, same mtime, different bytes: only ctime tells.
    const before = await stat(join(src, 'sneaky.bin'))
    await writeFile(join(src, 'sneaky.bin'), seededBytes(100, 50_000))
    await utimes(join(src, 'sneaky.bin'), before.atime, before.mtime)
    const v2 = await engine.snapshot(src, { bucket: 'reuse/tree' })
    assert.equal(v2.reusedBytes, 20 * 50_000, 'the 20 untouched files were not read again')
    assert.ok(v2.newBytes >= 50_000, 'the edited file was read and stored')

    const dest = join(dir, 'restored')
    await engine.restore({ bucket: 'reuse/tree', seq: 2, dest })
    assert.deepEqual(await compareTrees(src, dest), [])
    assert.deepEqual(await readFile(join(dest, 'sneaky.bin')), Buffer.from(seededBytes(100, 50_000)))
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('snapshotting a restored copy shows no changes, even though restore cannot set every nanosecond of an mtime', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(join(src, 'sub'), { recursive: true })
    for (let i = 0; i < 30; i++) await writeFile(join(src, 'sub', `f${i}.bin`), seededBytes(i, 3_000))
    await engine.snapshot(src, { bucket: 'reuse/copy' })
    const copy = join(dir, 'copy')
    await engine.restore({ bucket: 'reuse/copy', dest: copy })
    await engine.snapshot(copy, { bucket: 'reuse/copy' })
    const changes = []
    for await (const c of engine.diff({ bucket: 'reuse/copy', seq: 1 }, { bucket: 'reuse/copy', seq: 2 })) changes.push(c)
    assert.deepEqual(changes, [])
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('another folder with the same names, sizes and mtimes snapshotted into the bucket is read, not mistaken for the last one', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    for (const [root, seed] of [[a, 1], [b, 1000]] as const) {
      await mkdir(join(root, 'sub'), { recursive: true })
      for (let i = 0; i < 10; i++) {
        await writeFile(join(root, 'sub', `f${i}.bin`), seededBytes(seed + i, 20_000))
        await utimes(join(root, 'sub', `f${i}.bin`), 1_700_000_000, 1_700_000_000)
      }
    }
    await sleep(1100) // old enough for the ctime rule, so only the inodes can tell
    await engine.snapshot(a, { bucket: 'reuse/two-folders' })
    const fromB = await engine.snapshot(b, { bucket: 'reuse/two-folders' })
    assert.equal(fromB.reusedBytes, 0, 'no file of b is taken for a file of a')
    // unless asked to, as restic's --ignore-inode (for copies and filesystems without stable inodes)
    const careless = await engine.snapshot(a, { bucket: 'reuse/two-folders', ignoreInode: true })
    assert.equal(careless.reusedBytes, 20 * 10_000, 'size and times alone match')
    await engine.snapshot(b, { bucket: 'reuse/two-folders' })
    const dest = join(dir, 'restored-b')
    await engine.restore({ bucket: 'reuse/two-folders', seq: 4, dest })
    assert.deepEqual(await compareTrees(b, dest), [])

    // b moved to where a was: the same files (same inodes) at another path
    const { rename, rm } = await import('node:fs/promises')
    await rm(a, { recursive: true })
    await rename(b, a)
    const again = await engine.snapshot(a, { bucket: 'reuse/two-folders' })
    assert.equal(again.reusedBytes, 20 * 10_000, 'the same files at a new path are the same inodes: reused')
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a snapshot that fails half-way lends nothing to the next one: its files are read again', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    for (let i = 0; i < 5; i++) await writeFile(join(src, `f${i}.bin`), seededBytes(i, 10_000))
    await sleep(1100)
    const controller = new AbortController()
    await assert.rejects(engine.snapshot(src, { bucket: 'reuse/aborted', signal: controller.signal, onProgress: () => { controller.abort() } }))
    const first = await engine.snapshot(src, { bucket: 'reuse/aborted' })
    assert.equal(first.reusedBytes, 0, 'there was no parent version')
    const second = await engine.snapshot(src, { bucket: 'reuse/aborted' })
    assert.equal(second.reusedBytes, 50_000)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a v2 of an unchanged tree reuses every file and records the very same manifest, modes and nanosecond mtimes included', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(join(src, 'a', 'b'), { recursive: true })
    let bytes = 0
    for (let i = 0; i < 30; i++) {
      const file = join(src, i % 3 === 0 ? 'a' : 'a/b', `f${i}.bin`)
      await writeFile(file, seededBytes(500 + i, 1_000 + i * 7_000), { mode: [0o600, 0o644, 0o755, 0o4750][i % 4] })
      bytes += 1_000 + i * 7_000
    }
    await sleep(1100) // files older than the snapshot's start by the ctime margin
    const v1 = await engine.snapshot(src, { bucket: 'reuse/same' })
    const v2 = await engine.snapshot(src, { bucket: 'reuse/same' })
    const v3 = await engine.snapshot(src, { bucket: 'reuse/same', ignoreInode: true })
    assert.equal(v2.reusedBytes, bytes)
    assert.equal(v3.reusedBytes, bytes)
    assert.equal(v2.root, v1.root, 'reusing the files changed the manifest')
    assert.equal(v3.root, v1.root, 'reusing the files by size and times changed the manifest')
  } finally {
    await engine.close()
    await cleanup()
  }
})
