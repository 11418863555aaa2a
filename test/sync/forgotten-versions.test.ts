/**
 * A subscriber that fell behind while its publisher forgot versions (rok forget) cannot
 * fetch those versions' records any more: it syncs the newest versions still served and
 * says which it skipped. Real parts: two engines on disk, two libp2p hosts on loopback,
 * the publisher serving through its reverse index as a node does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { openEngine } from '../../node/engine.ts'
import { createRokHost } from '../../node/p2p/host.ts'
import { manifestBlocks } from '../../node/snapshot/index.ts'
import { syncChain, type SyncEvent } from '../../node/sync/version-sync.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const BUCKET = 'lab/data'

test('a subscriber behind versions the publisher forgot syncs the newest version it can get', async () => {
  const [dir, cleanup] = await tempDir()
  const a = await openEngine({ home: join(dir, 'a'), create: true })
  const b = await openEngine({ home: join(dir, 'b'), create: true })
  const publisher = await createRokHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    exchange: { store: a.store, authorize: async (_peer, cid) => await a.sync.refs.referencedByAny(cid, [BUCKET]) }
  })
  const subscriber = await createRokHost({ privateKey: await generateKeyPair('Ed25519'), listen: [], exchange: { store: b.store } })
  const events: SyncEvent[] = []
  const syncTo = async (seq: number): ReturnType<typeof syncChain> => {
    const target = await decodeVersionRecord(await a.store.get((await a.buckets.get(BUCKET, seq)).cid))
    return await syncChain(target, a.peerId, {
      store: b.store,
      buckets: b.buckets,
      refs: b.sync.refs,
      fetch: async (cids, o) => await subscriber.services.exchange.fetchBlocks(cids, o),
      peers: () => [publisher.getMultiaddrs()[0]],
      onProgress: (e) => { events.push(e) }
    })
  }
  try {
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    for (let i = 0; i < 3; i++) await writeFile(join(src, `f${i}.bin`), seededBytes(i, 200_000))
    await a.snapshot(src, { bucket: BUCKET })
    const first = await syncTo(1)
    assert.equal(first.versions, 1)
    assert.equal(first.skipped, 0)

    // v2..v4 while the subscriber is away; then the publisher keeps only the newest
    for (let v = 2; v <= 4; v++) {
      await writeFile(join(src, `f${v % 3}.bin`), seededBytes(100 + v, 200_000))
      await a.snapshot(src, { bucket: BUCKET })
    }
    await a.forget(BUCKET, { keepLast: 1 })

    const report = await syncTo(4)
    assert.equal(report.fromSeq, 1)
    assert.equal(report.toSeq, 4)
    assert.equal(report.versions, 1, 'v4 synced')
    assert.equal(report.skipped, 2, 'v2 and v3 skipped')
    assert.deepEqual(events.filter(e => e.type === 'sync:versions:skipped'), [{ type: 'sync:versions:skipped', bucket: BUCKET, fromSeq: 2, toSeq: 3 }])
    const head = await b.buckets.head(BUCKET)
    assert.equal(head?.seq, 4)
    assert.equal(head?.cid.toString(), (await a.buckets.get(BUCKET, 4)).cid.toString())
    await assert.rejects(b.buckets.get(BUCKET, 2), { code: 'ERR_VERSION_NOT_FOUND' })
    // every block of v4 is here and verifies (the store checks each read against its CID)
    let blocks = 0
    for await (const block of manifestBlocks(async cid => await b.store.get(cid), head!.record.root)) {
      await b.store.get(block.cid)
      blocks++
    }
    assert.ok(blocks > 3, `${blocks} blocks of v4`)
    // and it serves v4 to its own subscribers
    assert.ok(await b.sync.refs.indexed(BUCKET, head!.cid))
  } finally {
    await subscriber.stop()
    await publisher.stop()
    await a.close()
    await b.close()
    await cleanup()
  }
})
