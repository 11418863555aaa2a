/**
 * A node serving from its disk store reads runs of blocks without hashing them: the
 * fetching side checks every block against its CID anyway. A block rotten on the serving
 * disk is caught there, and the fetch gets it from another peer. In-process hosts.
 */
import assert from 'node:assert/strict'
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createRokHost, type RokHost } from '../../node/p2p/host.ts'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { generateBlocks, blockCids } from './fixtures/blocks.ts'
import { assertStoredIntact, client, type Client } from './fixtures/client.ts'
import { openTestDiskStore, type TestDiskStore } from '../fixtures/disk-store.ts'
import { tempDir } from '../fixtures/seeded.ts'
import type { BlockStore } from '../../node/store/types.ts'

const TIMEOUT = 120_000
const spec = { seed: 31, count: 256, size: 16 * 1024 }
/** Enough runs that the serving side reads most of them into memory used before. */
const clean = { seed: 32, count: 1024, size: 16 * 1024 }
/** Every ROT_EVERY-th block is rotten on the disk peer, so whatever share of the fetch it is asked for holds some. */
const ROT_EVERY = 16

/** Flips one byte of each of `blocks` where it lies in the store's pack files. */
async function rot (packsDir: string, blocks: Uint8Array[]): Promise<number> {
  let flipped = 0
  for (const name of await readdir(packsDir)) {
    const fd = await open(join(packsDir, name), 'r+')
    try {
      const pack = await fd.readFile()
      for (const bytes of blocks) {
        const at = pack.indexOf(bytes)
        if (at < 0) continue
        const byte = Buffer.from([pack[at + (bytes.byteLength >> 1)] ^ 0xff])
        await fd.write(byte, 0, 1, at + (bytes.byteLength >> 1))
        flipped++
      }
      await fd.sync()
    } finally {
      await fd.close()
    }
  }
  return flipped
}

describe('serving from a disk store', { timeout: TIMEOUT }, () => {
  let disk: TestDiskStore
  let closeDisk: () => Promise<void>
  let removeDir: () => Promise<void>
  let rotten: RokHost
  let good: RokHost
  let cleanDisk: TestDiskStore
  let closeCleanDisk: () => Promise<void>
  let cleanHost: RokHost
  let c: Client
  const reads = { verified: 0, unverified: 0 }

  before(async () => {
    const [dir, remove] = await tempDir('rok-serve-disk-')
    removeDir = remove
    ;[disk, closeDisk] = await openTestDiskStore(dir)
    const memory = new MemoryBlockStore()
    const rotting: Uint8Array[] = []
    let i = 0
    for (const block of generateBlocks(spec)) {
      await disk.put(block.cid, block.bytes)
      await memory.put(block.cid, block.bytes)
      // not the first of a share: a server reads its first want alone, with the checking get
      if (i++ % ROT_EVERY === ROT_EVERY - 1) rotting.push(block.bytes)
    }
    await disk.flush()
    assert.equal(await rot(join(dir, 'packs'), rotting), rotting.length)
    // the disk store as the node hands it to the exchange, counting which reads it gets
    const counted: Pick<BlockStore, 'get' | 'has' | 'put' | 'getMany' | 'getManyUnverified'> = {
      get: async (cid, o) => await disk.get(cid, o),
      has: async (cid, o) => await disk.has(cid, o),
      put: async (cid, bytes, o) => await disk.put(cid, bytes, o),
      getMany: async (cids, o) => { reads.verified++; return await disk.getMany(cids, o) },
      getManyUnverified: async (cids, o) => { reads.unverified++; return await disk.getManyUnverified(cids, o) }
    }
    ;[rotten, good] = await Promise.all([counted, memory].map(async store => await createRokHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      exchange: { store, authorize: () => true }
    })))
    const [cleanDir, removeClean] = await tempDir('rok-serve-disk-')
    ;[cleanDisk, closeCleanDisk] = await openTestDiskStore(cleanDir)
    const closeClean = closeCleanDisk
    closeCleanDisk = async () => { await closeClean(); await removeClean() }
    for (const block of generateBlocks(clean)) await cleanDisk.put(block.cid, block.bytes)
    await cleanDisk.flush()
    cleanHost = await createRokHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], exchange: { store: cleanDisk, authorize: () => true } })
    c = await client()
  })

  after(async () => {
    await Promise.all([c, { host: rotten }, { host: good }, { host: cleanHost }].map(async x => { await x?.host.stop() }))
    await closeDisk?.()
    await closeCleanDisk?.()
    await removeDir?.()
  })

  it('serves runs without hashing them; a block rotten on its disk is refused by the fetching node, which gets it from another peer', async () => {
    await Promise.all([rotten, good].map(async h => await c.host.dial(h.getMultiaddrs()[0])))
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
      peers: [multiaddr(rotten.getMultiaddrs()[0].toString()), multiaddr(good.getMultiaddrs()[0].toString())],
      signal: AbortSignal.timeout(TIMEOUT)
    })
    assert.equal(report.missing.length, 0)
    assert.equal(c.store.size, spec.count)
    await assertStoredIntact(c.store, spec)
    // the serving node read runs without its own hash check...
    assert.ok(reads.unverified > 0, 'the disk peer read no run unverified')
    assert.equal(reads.verified, 0)
    // ...so its rotten bytes reached the fetching node, whose check dropped it from the fetch
    const bad = report.peers.find(p => p.peer === rotten.peerId.toString())!
    assert.equal(bad.dropped?.code, P2PErrorCode.PEER_SENT_BAD_BLOCK)
    assert.equal(report.peers.find(p => p.peer === good.peerId.toString())!.blocks + bad.blocks, spec.count)
  })

  it('reads the runs it serves into memory it uses again, and every block arrives intact', async () => {
    const c2 = await client()
    try {
      const report = await c2.host.services.exchange.fetchBlocks(blockCids(clean), {
        peers: [multiaddr(cleanHost.getMultiaddrs()[0].toString())], signal: AbortSignal.timeout(TIMEOUT)
      })
      assert.equal(report.missing.length, 0)
      assert.equal(report.peers[0].channel, 'data')
      assert.equal(report.peers[0].dropped, undefined)
      await assertStoredIntact(c2.store, clean)
      // blocks stored together left in RUN frames, as they lie in the packs
      const served = cleanHost.services.exchange.serveStats()
      assert.ok(served.runBlocks > clean.count / 2, `${served.runBlocks} of ${served.blocks} blocks were sent in runs`)
      // the 16 MiB went out through a few buffers used again, not one new buffer per run
      const runBuffers = (cleanHost.services.exchange as unknown as { serverOptions: { runBuffers: { freeBuffers: number, allocated: number } } }).serverOptions.runBuffers
      assert.ok(runBuffers.freeBuffers > 0, 'no run buffer came back')
      assert.ok(runBuffers.allocated <= 16, `${runBuffers.allocated} run buffers allocated for 16 MiB`)
    } finally {
      await c2.host.stop()
    }
  })
})
