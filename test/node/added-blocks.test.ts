import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { chunkCid } from '../../protocol/cid.ts'
import { openEngine } from '../../node/engine.ts'
import { manifestBlocks, recordAddedBlocks } from '../../node/snapshot/index.ts'
import { RefIndex } from '../../node/sync/refs.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('after a v2 that edits, adds and removes across folders, peers allowed on the bucket may fetch every block of it', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    for (let d = 0; d < 6; d++) {
      await mkdir(join(src, `d${d}`, 'deep'), { recursive: true })
      for (let f = 0; f < 8; f++) await writeFile(join(src, `d${d}`, `f${f}.bin`), seededBytes(d * 100 + f, 1_000 + f * 40_000))
      await writeFile(join(src, `d${d}`, 'deep', 'big.bin'), seededBytes(d, 700_000))
    }
    await sleep(1100) // files older than the snapshot's start by the ctime margin, so v2 reuses them
    await engine.snapshot(src, { bucket: 'refs/tree' })
    for (let d = 0; d < 6; d += 2) {
      await appendFile(join(src, `d${d}`, 'f3.bin'), seededBytes(1000 + d, 5_000))
      await writeFile(join(src, `d${d}`, 'deep', 'big.bin'), seededBytes(2000 + d, 650_000))
      await rm(join(src, `d${d}`, 'f5.bin'))
    }
    await mkdir(join(src, 'new', 'inner'), { recursive: true })
    await writeFile(join(src, 'new', 'inner', 'n.bin'), seededBytes(3000, 300_000))
    const v2 = await engine.snapshot(src, { bucket: 'refs/tree' })
    assert.ok(v2.reusedBytes > 0, 'v2 reused files, so its blocks are not all stored again')

    let blocks = 0
    for await (const block of manifestBlocks(async cid => await engine.store.get(cid), (await engine.buckets.head('refs/tree'))!.record.root)) {
      blocks++
      assert.equal(await engine.sync.refs.referencedByAny(block.cid, ['refs/tree']), true, `${block.cid.toString()} of v2 is not indexed for the bucket`)
    }
    assert.ok(blocks > 50)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a first snapshot indexes every block of its version for the bucket without reading its manifest again', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const src = join(dir, 'src')
    for (let d = 0; d < 4; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true })
      for (let f = 0; f < 6; f++) await writeFile(join(src, `d${d}`, `f${f}.bin`), seededBytes(d * 10 + f, 2_000 + f * 90_000))
    }
    const get = engine.store.get.bind(engine.store)
    let reads = 0
    engine.store.get = async (cid, options) => { reads++; return await get(cid, options) }
    await engine.snapshot(src, { bucket: 'refs/first' })
    engine.store.get = get
    assert.equal(reads, 0, 'indexing the first version read blocks back from the store')
    const head = (await engine.buckets.head('refs/first'))!
    assert.equal(await engine.sync.refs.indexed('refs/first', head.cid), true)
    let blocks = 0
    for await (const block of manifestBlocks(async cid => await engine.store.get(cid), head.record.root)) {
      blocks++
      assert.equal(await engine.sync.refs.referencedByAny(block.cid, ['refs/first']), true, `${block.cid.toString()} of v1 is not indexed for the bucket`)
    }
    assert.ok(blocks > 50)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('with the stored blocks given, indexing a v2 reads no manifest; past the cap the list is dropped', async () => {
  const kv = new Map<string, string>()
  const refs = new RefIndex({
    get: async (k: string) => kv.get(k),
    getMany: async (ks: string[]) => ks.map(k => kv.get(k)),
    put: async (k: string, v: string) => { kv.set(k, v) },
    del: async (k: string) => { kv.delete(k) },
    batch: async (ops: Array<{ type: 'put', key: string, value: string } | { type: 'del', key: string }>) => { for (const op of ops) if (op.type === 'put') kv.set(op.key, op.value); else kv.delete(op.key) },
    iterator: async function * () {}
  })
  const [r1, r2, root1, root2] = [1, 2, 3, 4].map(i => chunkCid(seededBytes(i, 8)))
  const chunks = Array.from({ length: 5 }, (_, i) => chunkCid(seededBytes(10 + i, 8)))
  await refs.addBlocks('g/b', r1, [root1])
  const noReads = async (): Promise<Uint8Array> => { throw new Error('read a manifest block') }
  await refs.addVersion('g/b', r2, root2, noReads, { parent: { record: r1, root: root1 }, added: [root2, ...chunks] })
  for (const cid of [r2, root2, ...chunks]) assert.equal(await refs.referencedByAny(cid, ['g/b']), true)

  const put = async (): Promise<boolean> => true
  const recorded = recordAddedBlocks({ put, putMany: async batch => batch.map(() => true) }, 3)
  await recorded.store.put(chunks[0], new Uint8Array(8))
  await recorded.store.putMany!([[chunks[1], new Uint8Array(8)], [chunks[2], new Uint8Array(8)]])
  assert.deepEqual([...recorded.blocks()!], chunks.slice(0, 3).map(c => c.bytes))
  await recorded.store.put(chunks[3], new Uint8Array(8))
  assert.equal(recorded.blocks(), undefined)
})
