import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { chmod, link, mkdir, open, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

type Node =
  | { kind: 'file', size: number, seed: number, mode: number, mtime: number }
  | { kind: 'dir', mode: number, mtime: number, children: Array<[string, Node]> }
  | { kind: 'symlink', target: string }

const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
  .filter(n => n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0') && Buffer.byteLength(n) <= 255)
const mtime = fc.integer({ min: 0, max: 2_000_000_000 }).chain(s => fc.integer({ min: 0, max: 999_999 }).map(us => s + us / 1e6))
const fileNode = fc.record({
  kind: fc.constant('file' as const),
  size: fc.oneof(fc.constant(0), fc.nat(5000), fc.nat(400_000)),
  seed: fc.nat(),
  mode: fc.constantFrom(0o644, 0o600, 0o755, 0o444, 0o4755, 0o2750),
  mtime
})
const symlinkNode = fc.record({ kind: fc.constant('symlink' as const), target: fc.oneof(name, fc.constant('../outside'), fc.constant('/etc/passwd'), fc.constant('dangling/x')) })

const tree = fc.letrec<{ node: Node, dir: Node }>(tie => ({
  node: fc.oneof({ depthSize: 'small' }, fileNode, fileNode, symlinkNode, tie('dir')),
  dir: fc.record({
    kind: fc.constant('dir' as const),
    mode: fc.constantFrom(0o755, 0o700, 0o555, 0o1777),
    mtime,
    children: fc.uniqueArray(fc.tuple(name, tie('node')), { maxLength: 6, selector: ([n]) => n })
  })
})).dir

async function materialize (path: string, node: Node): Promise<void> {
  if (node.kind === 'file') {
    await writeFile(path, seededBytes(node.seed, node.size))
    await chmod(path, node.mode)
    await utimes(path, node.mtime, node.mtime)
  } else if (node.kind === 'symlink') {
    await symlink(node.target, path)
  } else {
    await mkdir(path, { recursive: true })
    for (const [n, child] of node.children) await materialize(join(path, n), child)
    await chmod(path, node.mode)
    await utimes(path, node.mtime, node.mtime)
  }
}

test('restore(snapshot(tree)) gives back the same tree, for random trees', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    let run = 0
    await fc.assert(fc.asyncProperty(tree, async root => {
      run++
      const src = join(dir, `src${run}`)
      const dest = join(dir, `dest${run}`)
      await materialize(src, root)
      const snap = await engine.snapshot(src, { bucket: 'prop/trees' })
      await engine.restore({ bucket: 'prop/trees', seq: snap.seq, dest })
      assert.deepEqual(await compareTrees(src, dest), [])
    }), { numRuns: 30 })
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('edge cases survive a round trip: empty files, deep nesting, hard links, sparse files, unicode names', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    let deep = src
    for (let i = 0; i < 60; i++) deep = join(deep, `level-${i}`)
    await mkdir(deep, { recursive: true })
    await writeFile(join(deep, 'bottom.txt'), 'deep\n')
    await writeFile(join(src, 'empty'), '')
    await mkdir(join(src, 'empty-dir'))
    await writeFile(join(src, '日本語のファイル名.txt'), 'こんにちは')
    await writeFile(join(src, 'original'), seededBytes(5, 300_000))
    await link(join(src, 'original'), join(src, 'second-name'))
    await link(join(src, 'original'), join(deep, 'third-name'))
    const sparse = join(src, 'sparse.img')
    const fd = await open(sparse, 'w')
    await fd.write(Buffer.from('head'), 0, 4, 0)
    await fd.write(Buffer.from('tail'), 0, 4, 64 * 1024 * 1024 - 4)
    await fd.close()

    const snap = await engine.snapshot(src, { bucket: 'edge/cases' })
    assert.equal(snap.files, 5 + 0, 'hard links are recorded once, as links')
    const dest = join(dir, 'dest')
    await engine.restore({ bucket: 'edge/cases', dest })
    assert.deepEqual(await compareTrees(src, dest), [])
    const restored = await stat(join(dest, 'sparse.img'))
    assert.equal(restored.size, 64 * 1024 * 1024)
    assert.ok(restored.blocks * 512 < 4 * 1024 * 1024, `sparse file restored with ${restored.blocks * 512} bytes allocated`)
    assert.equal((await stat(join(dest, 'original'))).ino, (await stat(join(dest, 'second-name'))).ino)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a block image round-trips byte for byte, and a second version stores only the changed chunks', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const image = join(dir, 'disk.img')
    const data = seededBytes(77, 20 * 1024 * 1024)
    await writeFile(image, data)
    const v1 = await engine.snapshot(image, { bucket: 'img/disk', message: 'v1' })
    assert.equal(v1.kind, 'image')
    assert.equal(v1.newBytes, data.length)
    // Overwrite 4 KiB in the middle and insert 10 bytes near the start.
    const v2data = Buffer.concat([data.subarray(0, 1_000_000), Buffer.from('INSERTED!!'), data.subarray(1_000_000)])
    v2data.fill(7, 10_000_000, 10_004_096)
    await writeFile(image, v2data)
    const v2 = await engine.snapshot(image, { bucket: 'img/disk', message: 'v2' })
    assert.ok(v2.newBytes < 600 * 1024, `v2 added ${v2.newBytes} bytes for a 4 KiB overwrite and a 10-byte insertion`)
    await engine.restore({ bucket: 'img/disk', seq: 1, dest: join(dir, 'r1.img') })
    await engine.restore({ bucket: 'img/disk', seq: 2, dest: join(dir, 'r2.img') })
    const { readFile } = await import('node:fs/promises')
    assert.ok((await readFile(join(dir, 'r1.img'))).equals(data))
    assert.ok((await readFile(join(dir, 'r2.img'))).equals(v2data))
    const changes = []
    for await (const c of engine.diff({ bucket: 'img/disk', seq: 1 }, { bucket: 'img/disk', seq: 2 })) changes.push(c)
    assert.equal(changes.length, 1)
    assert.ok(changes[0].bytes > 0 && changes[0].bytes < 600 * 1024)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('small files that are all zeros or end in zeros (holes skipped on restore) come back with their size and bytes', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'zeros.bin'), new Uint8Array(200_000))
    await writeFile(join(src, 'tail-zeros.bin'), Buffer.concat([seededBytes(3, 70_000), new Uint8Array(180_000)]))
    await writeFile(join(src, 'head-zeros.bin'), Buffer.concat([new Uint8Array(180_000), seededBytes(4, 70_000)]))
    await chmod(join(src, 'head-zeros.bin'), 0o4755) // a mode the file is not created with
    await engine.snapshot(src, { bucket: 'edge/zeros' })
    const dest = join(dir, 'dest')
    await engine.restore({ bucket: 'edge/zeros', dest })
    assert.deepEqual(await compareTrees(src, dest), [])
    assert.equal((await stat(join(dest, 'zeros.bin'))).size, 200_000)
  } finally {
    await engine.close()
    await cleanup()
  }
})
