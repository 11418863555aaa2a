import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { changedBlocks, manifestBlocks, snapshotVolume, walkList } from '../../node/snapshot/index.ts'
import { decodeEntry, decodeRoot, type Entry } from '../../protocol/manifest.ts'
import type { CID } from '../../protocol/cid.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

async function blockSet (blocks: AsyncIterable<{ cid: CID }>): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const b of blocks) out.add(b.cid.toString())
  return out
}

test('changedBlocks lists every block a version adds over its parent, and not the blocks of unchanged files and folders', async () => {
  const [dir, cleanup] = await tempDir()
  try {
    const src = join(dir, 'src')
    // 'many' has enough entries for several list leaves; 'big' a file with its own chunk list
    for (const sub of ['many', 'big', 'same']) await mkdir(join(src, sub), { recursive: true })
    for (let i = 0; i < 300; i++) await writeFile(join(src, 'many', `f${i}.txt`), seededBytes(i, 500 + i))
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'same', `s${i}.txt`), seededBytes(1000 + i, 3000))
    await writeFile(join(src, 'big', 'image.bin'), seededBytes(7, 4 * 1024 * 1024))
    await writeFile(join(src, 'big', 'small.bin'), seededBytes(8, 100))
    const store = new MemoryBlockStore()
    const get = async (cid: CID): Promise<Uint8Array> => await store.get(cid)
    const v1 = await snapshotVolume(src, { store, chunkWorker: 'never' })

    await writeFile(join(src, 'many', 'f150.txt'), seededBytes(5000, 700)) // edited
    await writeFile(join(src, 'many', 'new.txt'), seededBytes(5001, 900)) // added
    await rm(join(src, 'many', 'f3.txt')) // removed
    const big = Buffer.from(seededBytes(7, 4 * 1024 * 1024))
    big.fill(1, 2_000_000, 2_000_100) // one chunk of the large file changes
    await writeFile(join(src, 'big', 'image.bin'), big)
    const v2 = await snapshotVolume(src, { store, chunkWorker: 'never' })

    const all1 = await blockSet(manifestBlocks(get, v1.root))
    const all2 = await blockSet(manifestBlocks(get, v2.root))
    const changed = await blockSet(changedBlocks(get, v2.root, v1.root))
    const added = [...all2].filter(c => !all1.has(c))
    assert.ok(added.length > 0)
    for (const c of added) assert.ok(changed.has(c), `block ${c} that v2 adds is listed`)
    for (const c of changed) assert.ok(all2.has(c), `block ${c} listed belongs to v2`)

    // nothing of the unchanged folder, nor of the unchanged files next to the changed ones
    const listed = []
    for await (const b of changedBlocks(get, v2.root, v1.root)) listed.push(b)
    const changedPaths = new Set(listed.filter(b => b.type === 'chunk').map(b => b.path))
    assert.deepEqual([...changedPaths].sort(), ['big/image.bin', 'many/f150.txt', 'many/new.txt'])
    const top = new Map<string, Entry>()
    for await (const e of walkList(get, decodeRoot(await get(v2.root)).list, decodeEntry)) top.set(e.name, e)
    assert.ok(!changed.has(top.get('same')!.dir!.toString()), 'the unchanged folder is not listed')
    // besides the large file's chunks: the root, a few list nodes, two small files' chunks
    const others = listed.filter(b => b.path !== 'big/image.bin').length
    assert.ok(others <= 12, `a few of v2's ${all2.size} blocks besides the large file's (got ${others})`)

    assert.deepEqual([...await blockSet(changedBlocks(get, v2.root, v2.root))], [v2.root.toString()], 'a version over itself adds only its root')
  } finally {
    await cleanup()
  }
})
