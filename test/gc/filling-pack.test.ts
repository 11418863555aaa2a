/**
 * gc runs beside snapshots and syncs without a lock, so the pack a snapshot is filling when
 * gc scans the index holds blocks the scan cannot see yet (they are indexed when the pack
 * is sealed). If that pack fills up and is sealed while gc is still running, gc must not
 * take it for an empty pack and remove it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Level } from 'level'
import { join } from 'node:path'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { collectGarbage } from '../../node/policy/gc.ts'
import { GcCandidates, type CandidateIndex } from '../../node/policy/candidates.ts'
import { openTestDiskStore } from '../fixtures/disk-store.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const PACK = 256 * 1024
const BLOCK = 16 * 1024

test('gc keeps the blocks of a pack a snapshot was still filling when gc scanned, once that pack is sealed mid-gc', async () => {
  const [dir, cleanup] = await tempDir()
  const [store, closeStore] = await openTestDiskStore(dir, PACK)
  const db = new Level<string, string>(join(dir, 'gc-db'))
  try {
    let seed = 0
    const putBlock = async (): Promise<CID> => {
      const bytes = seededBytes(seed++, BLOCK)
      const cid = chunkCid(bytes)
      await store.put(cid, bytes)
      return cid
    }
    // two sealed, indexed packs, then a few blocks in the pack being filled (not indexed yet)
    for (let i = 0; i < (2 * PACK) / BLOCK + 1; i++) await putBlock()
    await store.flush()
    const filling: CID[] = []
    for (let i = 0; i < 4; i++) filling.push(await putBlock())

    await db.open()
    const candidates = await GcCandidates.open(db.sublevel<Uint8Array, string>('c', { keyEncoding: 'view', valueEncoding: 'utf8' }) as unknown as CandidateIndex)
    // After the scan, the snapshot goes on writing until the pack it was filling is full and sealed.
    const mark = candidates.mark.bind(candidates)
    let rotatedDuringGc = false
    candidates.mark = async (cids, at) => {
      const before = (await store.packIds()).length
      while ((await store.packIds()).length === before) filling.push(await putBlock())
      rotatedDuringGc = true
      await mark(cids, at)
    }
    // nothing is referenced, but everything is inside the grace period: nothing may go
    const report = await collectGarbage({ store, buckets: { all: async function * () {} }, candidates })
    assert.equal(rotatedDuringGc, true)
    assert.equal(report.sweptBlocks, 0)
    assert.equal(report.packsRemoved, 0, 'no pack may be removed while all its blocks are within the grace period')
    await store.flush()
    for (const cid of filling) assert.ok((await store.get(cid)).byteLength === BLOCK, `block ${cid.toString()} of the filling pack is readable`)
  } finally {
    await db.close()
    await closeStore()
    await cleanup()
  }
})
