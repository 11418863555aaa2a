import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { openDiskStore, type PresenceGuard } from '../../node/store/index.ts'
import { verifyStore } from '../../node/verify.ts'
import { levelIndex } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const BLOCK = 8000
const NO_VERSIONS = { async * all () {} }

function blocks (from: number, n: number): Array<[CID, Uint8Array]> {
  return Array.from({ length: n }, (_, i) => { const b = seededBytes(from + i, BLOCK); return [chunkCid(b), b] })
}

test('blocks a sync found missing are stored without an index lookup, and one stored meanwhile is stored again, never lost', async () => {
  const [dir, cleanup] = await tempDir()
  let looked = 0
  const { index, close } = await levelIndex(dir, { getMany: keys => { looked += keys.length } })
  const touched: string[] = []
  const guard: PresenceGuard = { generation: 0, touch: (cid) => { touched.push(cid.toString()); return true } }
  const store = await openDiskStore({ dir: join(dir, 'packs'), index, packTargetSize: 64 * 1024, guard })
  try {
    const first = blocks(0, 20)
    await store.putMany(first)
    await store.flush()
    assert.ok(looked >= 20, 'a put without the option looks every block up')

    const before = looked
    const fetched = blocks(20, 20)
    assert.deepEqual(await store.putMany(fetched, { absent: true }), fetched.map(() => true))
    assert.equal(looked, before, 'no index lookup for blocks known absent')
    assert.deepEqual(touched, fetched.map(([cid]) => cid.toString()), 'each is still a put again for gc')

    // still waiting in the pack being written (not yet indexed): a second put writes nothing
    const more = blocks(40, 2)
    assert.deepEqual(await store.putMany(more, { absent: true }), [true, true])
    assert.deepEqual(await store.putMany(more, { absent: true }), [false, false])
    // indexed already, stored meanwhile by another writer: stored again, a dead copy in a later pack
    assert.deepEqual(await store.putMany(first.slice(10, 15), { absent: true }), [true, true, true, true, true])
    await store.flush()
    assert.equal(looked, before)

    for (const [cid, bytes] of [...first, ...fetched, ...more]) assert.deepEqual(await store.get(cid), bytes, cid.toString())
    const report = await verifyStore({ store, buckets: NO_VERSIONS })
    assert.equal(report.ok, true, JSON.stringify(report.damaged))
    assert.equal(report.blocks, 42)
  } finally {
    await store.close()
    await close()
    await cleanup()
  }
})
