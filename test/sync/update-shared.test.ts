/**
 * A subscriber syncing an update already holds, and has indexed for the bucket, everything
 * its previous version shares with the new one: the chunks under shared manifest nodes are
 * neither looked up in its store nor indexed again, and it still serves every block of the
 * update to a fresh subscriber. A previous version damaged since is no shortcut, and one
 * `rok verify --repair` marked damaged is healed from peers by the next sync. Real
 * parts: three engines on disk, libp2p hosts on loopback, each serving through its reverse
 * index as a node does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { openEngine, type Engine } from '../../node/engine.ts'
import { createRokHost, type RokHost } from '../../node/p2p/host.ts'
import { manifestBlocks } from '../../node/snapshot/index.ts'
import { syncChain, type ChainReport } from '../../node/sync/version-sync.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { parseCid, type CID } from '../../protocol/cid.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const BUCKET = 'lab/model'
const MiB = 1024 * 1024

async function serving (engine: Engine): Promise<RokHost> {
  return await createRokHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    exchange: { store: engine.store, authorize: async (_peer, cid) => await engine.sync.refs.referencedByAny(cid, [BUCKET]) }
  })
}

interface World {
  dir: string
  a: Engine
  b: Engine
  c: Engine
  ha: RokHost
  hb: RokHost
  hc: RokHost
  /** Sync `to` to `seq` from `from`, counting the chunks it looks up and the blocks it indexes. */
  sync: (to: { engine: Engine, host: RokHost }, from: RokHost, seq: number) => Promise<ChainReport & { lookedUp: number, indexed: number }>
  /** A publishes v1 (24 MiB in one file) and B syncs it; then A publishes v2 with 64 KiB rewritten in the middle. Returns v2's chunk count. */
  twoVersions: () => Promise<number>
}

async function withWorld (fn: (w: World) => Promise<void>): Promise<void> {
  const [dir, cleanup] = await tempDir()
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async n => await openEngine({ home: join(dir, n), create: true })))
  const [ha, hb, hc] = await Promise.all([a, b, c].map(serving))
  /** Sync `to` to `seq` from `from`, counting the chunks it looks up and the blocks it indexes. */
  const sync = async (to: { engine: Engine, host: RokHost }, from: RokHost, seq: number): Promise<ChainReport & { lookedUp: number, indexed: number }> => {
    const target = await decodeVersionRecord(await a.store.get((await a.buckets.get(BUCKET, seq)).cid))
    let lookedUp = 0
    let indexed = 0
    const store = to.engine.store
    const report = await syncChain(target, a.peerId, {
      store: { get: store.get.bind(store), getMany: store.getMany.bind(store), has: store.has.bind(store), flush: store.flush.bind(store), hasMany: async (cids: CID[]) => { lookedUp += cids.length; return await store.hasMany(cids) } },
      buckets: to.engine.buckets,
      refs: {
        state: to.engine.sync.refs.state.bind(to.engine.sync.refs),
        damaged: to.engine.sync.refs.damaged.bind(to.engine.sync.refs),
        healed: to.engine.sync.refs.healed.bind(to.engine.sync.refs),
        addBlocks: async (...args) => { const n = await to.engine.sync.refs.addBlocks(...args); indexed += n; return n }
      },
      fetch: async (cids, o) => await to.host.services.exchange.fetchBlocks(cids, o),
      peers: () => [from.getMultiaddrs()[0]]
    })
    return { ...report, lookedUp, indexed }
  }
  const twoVersions = async (): Promise<number> => {
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'weights.bin'), seededBytes(1, 24 * MiB))
    await a.snapshot(src, { bucket: BUCKET })
    const first = await sync({ engine: b, host: hb }, ha, 1)
    assert.equal(first.versions, 1)
    // v2 rewrites 64 KiB in the middle of the file: one of its chunk list's leaves changes
    const bytes = await readFile(join(src, 'weights.bin'))
    bytes.set(seededBytes(2, 64 * 1024), 12 * MiB)
    await writeFile(join(src, 'weights.bin'), bytes)
    await a.snapshot(src, { bucket: BUCKET })
    let chunks = 0
    for await (const block of manifestBlocks(async cid => await a.store.get(cid), (await a.buckets.get(BUCKET, 2)).record.root)) if (block.type === 'chunk') chunks++
    return chunks
  }
  try {
    await fn({ dir, a, b, c, ha, hb, hc, sync, twoVersions })
  } finally {
    await Promise.all([ha, hb, hc].map(async h => { await h.stop() }))
    await Promise.all([a, b, c].map(async e => { await e.close() }))
    await cleanup()
  }
}

test('an update syncs without looking up or indexing again the chunks its previous version shares, and the node still serves all of it', async () => {
  await withWorld(async ({ a, b, c, ha, hb, hc, sync, twoVersions }) => {
    const chunks = await twoVersions()
    const v2 = await a.buckets.get(BUCKET, 2)
    const update = await sync({ engine: b, host: hb }, ha, 2)
    assert.equal(update.versions, 1)
    assert.ok(update.lookedUp < chunks / 2, `looked up ${update.lookedUp} of v2's ${chunks} chunks`)
    assert.ok(update.indexed < chunks / 2, `indexed ${update.indexed} blocks for v2's ${chunks} chunks`)
    assert.ok(update.lookedUp > 0 && update.indexed > 0, 'the changed leaf\'s chunks are looked up and indexed')
    assert.ok(await b.sync.refs.indexed(BUCKET, v2.cid))

    // B keeps v2 only; a fresh subscriber then gets every block of v2 from B alone, the
    // chunks v2 shares with the forgotten v1 included
    await b.forget(BUCKET, { keepLast: 1 })
    const fresh = await sync({ engine: c, host: hc }, hb, 2)
    assert.equal(fresh.versions, 1)
    assert.equal(fresh.skipped, 1, 'v1 is no longer served')
    assert.ok(fresh.lookedUp >= chunks, 'nothing to share with: every chunk looked up')
    let verified = 0
    for await (const block of manifestBlocks(async cid => await c.store.get(cid), v2.record.root)) { await c.store.get(block.cid); verified++ }
    assert.ok(verified > chunks)
  })
})

test('a previous version damaged since it was recorded is no shortcut: the update looks everything up and fetches what is missing', async () => {
  await withWorld(async ({ a, b, ha, hb, sync, twoVersions }) => {
    const chunks = await twoVersions()
    const [v1, v2] = [await a.buckets.get(BUCKET, 1), await a.buckets.get(BUCKET, 2)]
    const nodesOf = async (root: CID): Promise<string[]> => {
      const out: string[] = []
      for await (const block of manifestBlocks(async cid => await a.store.get(cid), root)) if (block.type === 'node') out.push(block.cid.toString())
      return out
    }
    const later = new Set(await nodesOf(v2.record.root))
    const shared = (await nodesOf(v1.record.root)).filter(n => later.has(n))
    assert.ok(shared.length > 0, 'v2 shares manifest nodes with v1')
    // one node both versions share goes missing from B's store
    const lost = parseCid(shared[shared.length - 1])
    await b.store.deleteIndexEntries([lost])
    assert.equal(await b.store.has(lost), false)

    const update = await sync({ engine: b, host: hb }, ha, 2)
    assert.equal(update.versions, 1)
    assert.ok(update.lookedUp >= chunks, `looked up ${update.lookedUp} of v2's ${chunks} chunks`)
    for await (const block of manifestBlocks(async cid => await b.store.get(cid), v2.record.root)) await b.store.get(block.cid)
  })
})

test('a version verify --repair marked damaged is fetched again by the next sync, and stays marked while no peer has it', async () => {
  await withWorld(async ({ dir, a, b, ha, hb, hc, sync, twoVersions }) => {
    await twoVersions()
    await sync({ engine: b, host: hb }, ha, 2)
    const [v1, v2] = [await b.buckets.get(BUCKET, 1), await b.buckets.get(BUCKET, 2)]
    // a chunk both versions share (the file's first; v2 rewrote its middle) rots in B's pack
    let first: CID | undefined
    for await (const block of manifestBlocks(async cid => await b.store.get(cid), v1.record.root)) if (block.type === 'chunk') { first = block.cid; break }
    const loc = (await b.store.locate(first!))!
    const packs = await readdir(join(dir, 'b', 'packs'))
    const fd = await open(join(dir, 'b', 'packs', packs.find(p => parseInt(p, 16) === loc.pack)!), 'r+')
    const byte = Buffer.alloc(1)
    await fd.read(byte, 0, 1, loc.offset + 7)
    await fd.write(Buffer.from([byte[0] ^ 0x40]), 0, 1, loc.offset + 7)
    await fd.close()

    const checked = await b.verify({ repair: true })
    assert.equal(checked.ok, false)
    assert.deepEqual(checked.repaired, { unindexed: 1, versions: [{ bucket: BUCKET, seq: 1 }, { bucket: BUCKET, seq: 2 }] })
    assert.equal(await b.store.has(first!), false, 'the corrupt chunk left the index')
    assert.equal(await b.sync.refs.state(BUCKET, v2.cid), 'damaged')

    // C holds nothing of the bucket: the sync finds B up to date and cannot heal it
    const stuck = await sync({ engine: b, host: hb }, hc, 2)
    assert.equal(stuck.versions, 0)
    assert.deepEqual([stuck.healed, stuck.unhealed], [0, 2])
    assert.equal(await b.sync.refs.state(BUCKET, v1.cid), 'damaged', 'still marked')

    const healed = await sync({ engine: b, host: hb }, ha, 2)
    assert.deepEqual([healed.versions, healed.healed, healed.unhealed], [0, 2, 0])
    assert.equal(healed.chunks, 1, 'only the lost chunk crosses the network')
    assert.deepEqual(await b.sync.refs.damaged(BUCKET), [])
    assert.equal(await b.sync.refs.state(BUCKET, v1.cid), 'sound')
    assert.deepEqual((await b.verify()).damaged, [], 'nothing is missing or corrupt, no table points at the rotten copy')
    const dest = join(dir, 'v1')
    await b.restore({ bucket: BUCKET, seq: 1, dest })
    assert.ok((await readFile(join(dest, 'weights.bin'))).equals(seededBytes(1, 24 * MiB)), 'v1 restores byte for byte')
  })
})
