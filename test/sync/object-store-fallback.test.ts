/**
 * A sync needs blocks that no reachable peer has (the publisher lost them, or is gone and
 * no fellow had them): with an object-storage tier the node takes them from it and says so
 * in its report; without one the sync fails naming what is missing. The exchange is
 * stood in for by a peer that serves from the publisher's store except the lost blocks;
 * the real exchange is covered by the multi-process sync tests.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { openEngine, type Engine } from '../../node/engine.ts'
import { OBJECT_STORE_SOURCE, syncChain, type FetchFn } from '../../node/sync/version-sync.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { RAW_CODEC, type CID } from '../../protocol/cid.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const PEER = multiaddr('/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDWSYiGPMGXjCZ2LoqkfL1643driUYW6sLU75tzHZVe9K')

/** A peer serving `from`'s blocks into `to`, except `lost`. */
function peerServing (from: Engine, to: Engine, lost: Set<string>): FetchFn {
  return async (cids) => {
    const missing: CID[] = []
    let bytes = 0
    let blocks = 0
    for (const cid of cids) {
      if (lost.has(cid.toString())) { missing.push(cid); continue }
      const b = await from.store.get(cid)
      await to.store.put(cid, b)
      bytes += b.length
      blocks++
    }
    return { blocks, bytes, missing, peers: [{ peer: PEER.toString(), blocks, bytes }] }
  }
}

async function setup (dir: string): Promise<{ a: Engine, b: Engine, src: string, lost: Set<string>, target: Awaited<ReturnType<typeof decodeVersionRecord>> }> {
  const src = join(dir, 'src')
  await mkdir(src, { recursive: true })
  for (let i = 0; i < 6; i++) await writeFile(join(src, `f${i}.bin`), seededBytes(i, 200_000))
  const a = await openEngine({ home: join(dir, 'a'), create: true })
  const b = await openEngine({ home: join(dir, 'b'), create: true })
  await a.snapshot(src, { bucket: 'lab/data' })
  const head = await a.buckets.get('lab/data')
  const target = await decodeVersionRecord(await a.store.get(head.cid))
  // the peer has lost every third chunk
  const lost = new Set<string>()
  let n = 0
  for await (const { cid } of a.store.blocks()) if (cid.code === RAW_CODEC && n++ % 3 === 0) lost.add(cid.toString())
  return { a, b, src, lost, target }
}

test('chunks no peer has come from the object-storage tier, and the report says how many came from there', async () => {
  const [dir, cleanup] = await tempDir()
  const { a, b, src, lost, target } = await setup(dir)
  try {
    const fromTier: string[] = []
    const report = await syncChain(target, a.peerId, {
      store: b.store,
      buckets: b.buckets,
      refs: b.sync.refs,
      fetch: peerServing(a, b, lost),
      peers: () => [PEER],
      fallback: async (cids) => {
        let bytes = 0
        for (const cid of cids) {
          const bytesOf = await a.store.get(cid) // the tier holds what the publisher pushed
          await b.store.put(cid, bytesOf)
          bytes += bytesOf.length
          fromTier.push(cid.toString())
        }
        return { stored: cids, bytes }
      }
    })
    assert.equal(report.toSeq, 1)
    assert.deepEqual(new Set(fromTier), lost, 'exactly the lost chunks came from the tier')
    const share = report.peers.find(p => p.peer === OBJECT_STORE_SOURCE)
    assert.equal(share?.blocks, lost.size)
    await b.store.flush()
    const out = join(dir, 'restored')
    await b.restore({ bucket: 'lab/data', dest: out })
    assert.deepEqual(await compareTrees(src, out), [])
  } finally {
    await a.close()
    await b.close()
    await cleanup()
  }
})

test('without a tier, chunks no peer has fail the sync with the count and the bucket named', async () => {
  const [dir, cleanup] = await tempDir()
  const { a, b, lost, target } = await setup(dir)
  try {
    await assert.rejects(syncChain(target, a.peerId, {
      store: b.store, buckets: b.buckets, refs: b.sync.refs, fetch: peerServing(a, b, lost), peers: () => [PEER]
    }), (err: { code: string, message: string }) => err.code === 'ERR_BLOCKS_MISSING' && err.message.includes('lab/data') && /could not be fetched/.test(err.message))
    await assert.rejects(b.buckets.get('lab/data'), { code: 'ERR_BUCKET_NOT_FOUND' })
  } finally {
    await a.close()
    await b.close()
    await cleanup()
  }
})
