import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, open, readdir, writeFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { encodeNode, encodeRoot, MANIFEST_FORMAT } from '../../protocol/manifest.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('verify names a corrupted chunk with every version and path it breaks, and restore refuses to write wrong bytes', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(join(src, 'models'), { recursive: true })
    const weights = seededBytes(21, 200_000)
    await writeFile(join(src, 'models', 'weights.bin'), weights)
    await writeFile(join(src, 'readme.txt'), 'hello')
    await engine.snapshot(src, { bucket: 'team/model' })
    await writeFile(join(src, 'readme.txt'), 'hello again')
    await engine.snapshot(src, { bucket: 'team/model' })
    assert.equal((await engine.verify()).ok, true)

    // Flip one byte of the first chunk of weights.bin inside its pack.
    const { cutPoints } = await import('../../node/chunker/index.ts')
    const first = weights.subarray(0, cutPoints(weights)[0])
    const cid = chunkCid(first)
    const loc = await engine.store.locate(cid)
    const packs = await readdir(join(dir, 'home', 'packs'))
    const fd = await open(join(dir, 'home', 'packs', packs.find(p => parseInt(p, 16) === loc!.pack)!), 'r+')
    await fd.write(Buffer.from([first[5] ^ 0x01]), 0, 1, loc!.offset + 5)
    await fd.close()

    const report = await engine.verify()
    assert.equal(report.ok, false)
    const damage = report.damaged.find(d => d.cid === cid.toString())
    assert.ok(damage !== undefined, 'the corrupted chunk is named')
    assert.equal(damage.problem, 'corrupt')
    assert.deepEqual(damage.affects.map(a => `${a.bucket}@${a.seq}:${a.path}`).sort(), ['team/model@1:models/weights.bin', 'team/model@2:models/weights.bin'])

    const dest = join(dir, 'restored')
    await assert.rejects(engine.restore({ bucket: 'team/model', seq: 1, dest }), { code: 'ERR_HASH_MISMATCH' })
    await assert.rejects(stat(dest), { code: 'ENOENT' }, 'nothing is left at the destination')
    assert.deepEqual((await readdir(dir)).filter(n => n.includes('rok-restore')), [], 'no temporary folder is left behind')
  } finally {
    await engine.close()
    await cleanup()
  }
})

async function recordHandmadeManifest (engine: Awaited<ReturnType<typeof openEngine>>, entries: unknown[], bucket: string): Promise<void> {
  const content = new TextEncoder().encode('payload')
  const chunk = chunkCid(content)
  await engine.store.put(chunk, content)
  const withData = entries.map(e => ({ ...(e as object), data: [[chunk, content.length]] }))
  const list = encodeNode({ leaf: withData })
  await engine.store.put(list.cid, list.bytes)
  const root = encodeRoot({ format: MANIFEST_FORMAT, kind: 'tree', size: content.length * entries.length, files: entries.length, dirs: 1, list: list.cid, mode: 0o755, mtime: [0, 0] })
  await engine.store.put(root.cid, root.bytes)
  await engine.store.flush()
  await engine.buckets.append(bucket, { root: root.cid, kind: 'tree', size: content.length * entries.length, message: '', createdAt: 0 })
}

test('a manifest with unsafe paths or device nodes is refused on restore and writes nothing outside', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const base = { kind: 'file', mode: 0o644, mtime: [0, 0], size: 7 }
    const cases: Array<[string, unknown[]]> = [
      ['evil/dotdot', [{ ...base, name: '..' }]],
      ['evil/slash', [{ ...base, name: '../../escape' }]],
      ['evil/absolute', [{ ...base, name: '/etc/passwd' }]],
      ['evil/device', [{ ...base, name: 'sda', kind: 'blockdev' }]],
      ['evil/duplicate', [{ ...base, name: 'a' }, { ...base, name: 'a' }]]
    ]
    for (const [bucket, entries] of cases) {
      await recordHandmadeManifest(engine, entries, bucket)
      const dest = join(dir, 'out', bucket.replace('/', '-'))
      await assert.rejects(engine.restore({ bucket, dest }), { code: 'ERR_INVALID_MANIFEST' }, bucket)
      await assert.rejects(stat(dest), { code: 'ENOENT' })
    }
    await assert.rejects(stat(join(dir, 'escape')), { code: 'ENOENT' })
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('restoring into a non-empty folder needs --force, which replaces it exactly', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(src)
    await writeFile(join(src, 'a.txt'), 'A')
    await engine.snapshot(src, { bucket: 'x/y' })
    const dest = join(dir, 'dest')
    await mkdir(dest)
    await writeFile(join(dest, 'precious.txt'), 'keep me')
    await assert.rejects(engine.restore({ bucket: 'x/y', dest }), { code: 'ERR_DEST_NOT_EMPTY' })
    assert.equal((await readdir(dest)).join(), 'precious.txt')
    await engine.restore({ bucket: 'x/y', dest, force: true })
    assert.deepEqual(await readdir(dest), ['a.txt'])
    const emptyDest = join(dir, 'empty')
    await mkdir(emptyDest)
    await engine.restore({ bucket: 'x/y', dest: emptyDest })
    assert.deepEqual(await readdir(emptyDest), ['a.txt'])
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a FIFO inside the tree, or a missing path, stops the snapshot with the path named and records nothing', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    await mkdir(src)
    await writeFile(join(src, 'ok.txt'), 'fine')
    const { execFileSync } = await import('node:child_process')
    execFileSync('mkfifo', [join(src, 'pipe')])
    await assert.rejects(engine.snapshot(src, { bucket: 'a/b' }), (err: { code: string, message: string }) => err.code === 'ERR_UNSUPPORTED_FILE_TYPE' && err.message.includes('pipe'))
    await assert.rejects(engine.snapshot(join(dir, 'nope'), { bucket: 'a/b' }), { code: 'ERR_NOT_A_VOLUME' })
    await assert.rejects(engine.buckets.get('a/b'), { code: 'ERR_BUCKET_NOT_FOUND' })
  } finally {
    await engine.close()
    await cleanup()
  }
})
