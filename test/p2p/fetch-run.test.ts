/**
 * The fetching side's handling of RUN frames, against scripted peers on in-memory
 * streams (the peers' answers are the point, so they are written by hand here; real
 * servers send runs in serve-from-disk.test.ts): a run's blocks are verified and stored,
 * and a run carrying a block nobody asked for, or a corrupt one, drops its peer while
 * the blocks go to another.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { encodeRun, FrameDecoder } from '../../protocol/exchange.ts'
import { Fetch, type OpenedStream } from '../../node/p2p/exchange/fetch.ts'
import { BlockVerifier } from '../../node/p2p/exchange/verify.ts'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { seededBytes } from '../fixtures/seeded.ts'
import { BlockArena } from '../../node/p2p/exchange/block-arena.ts'
import { openTestDiskStore } from '../fixtures/disk-store.ts'
import { tempDir } from '../fixtures/seeded.ts'
import type { BlockStore } from '../../node/store/types.ts'
import type { ExchangeStream } from '../../node/p2p/exchange/stream-frames.ts'
import type { Logger } from '@libp2p/interface'

type Answer = (wanted: CID[]) => Uint8Array

/** A peer that answers each WANT message with one frame made by `answer`; with `arena`, blocks are received into it as on the data channel. */
function scriptedStream (answer: Answer, arena?: BlockArena): ExchangeStream {
  const listeners = new Map<string, Set<(evt: any) => void>>()
  const emit = (type: string, evt: unknown): void => { for (const l of listeners.get(type) ?? []) l(evt) }
  const decoder = new FrameDecoder()
  let open = true
  return {
    arena,
    get writeStatus () { return open ? 'writable' : 'closed' },
    send: (data) => {
      for (const message of decoder.push(data instanceof Uint8Array ? data : data.subarray())) {
        if (message.type !== 'want') continue
        const frame = answer(message.entries.map(e => e.cid))
        setImmediate(() => { if (open) emit('message', { data: frame }) })
      }
      return true
    },
    onDrain: async () => {},
    close: async () => { open = false; emit('close', {}) },
    abort: () => { open = false; emit('close', {}) },
    addEventListener: (type, l) => { if (!listeners.has(type)) listeners.set(type, new Set()); listeners.get(type)!.add(l) },
    removeEventListener: (type, l) => { listeners.get(type)?.delete(l) }
  }
}

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as unknown as Logger

const blocks = Array.from({ length: 40 }, (_, i) => seededBytes(900 + i, 4096 + i))
const cids = blocks.map(b => chunkCid(b))
const byCid = new Map(cids.map((cid, i) => [cid.toString(), blocks[i]]))
const stranger = seededBytes(999, 100)

/** Every wanted block in one RUN, as a well-behaved server sends blocks stored together. */
const honest: Answer = (wanted) => encodeRun(wanted.map(cid => [cid, byCid.get(cid.toString())!]))

async function fetchFrom (peers: Record<string, Answer>): Promise<{ report: Awaited<ReturnType<Fetch['run']>>, store: MemoryBlockStore }> {
  const store = new MemoryBlockStore()
  const addrs = Object.keys(peers).map((_, i) => multiaddr(`/ip4/127.0.0.1/tcp/${1000 + i}`))
  const answers = new Map(addrs.map((a, i) => [a.toString(), Object.values(peers)[i]]))
  const fetch = new Fetch({
    store,
    open: async (peer): Promise<OpenedStream> => ({ stream: scriptedStream(answers.get((peer as Multiaddr).toString())!), channel: 'data' }),
    window: 8,
    openTimeout: 5000,
    idleTimeout: 5000,
    maxUnstoredBytes: 64 * 1024 * 1024,
    verifier: new BlockVerifier(false),
    arena: undefined,
    log
  }, cids, { peers: addrs, signal: AbortSignal.timeout(20_000) })
  return { report: await fetch.run(), store }
}

async function assertAllStored (store: MemoryBlockStore): Promise<void> {
  assert.equal(store.size, blocks.length)
  for (const [i, cid] of cids.entries()) assert.ok(Buffer.from(await store.get(cid)).equals(blocks[i]), `block ${i}`)
}

describe('fetching blocks sent in RUN frames', () => {
  it('stores every block of the runs a peer sends', async () => {
    const { report, store } = await fetchFrom({ a: honest })
    assert.equal(report.missing.length, 0)
    assert.equal(report.blocks, blocks.length)
    await assertAllStored(store)
  })

  it('drops a peer whose run carries a block nobody asked it for, and gets its blocks from another', async () => {
    const sneaky: Answer = (wanted) => encodeRun([...wanted.slice(0, 2).map(cid => [cid, byCid.get(cid.toString())!] as [CID, Uint8Array]), [chunkCid(stranger), stranger]])
    const { report, store } = await fetchFrom({ sneaky, honest })
    assert.equal(report.missing.length, 0)
    const dropped = report.peers.find(p => p.dropped !== undefined)
    assert.equal(dropped?.dropped?.code, P2PErrorCode.PEER_SENT_UNWANTED)
    await assertAllStored(store)
    assert.equal(await store.has(chunkCid(stranger)), false, 'the unasked block was stored')
  })

  it('drops a peer whose run carries a corrupt block, and stores the good bytes from another', async () => {
    const corrupt: Answer = (wanted) => encodeRun(wanted.map((cid, i) => {
      const bytes = Uint8Array.prototype.slice.call(byCid.get(cid.toString())!)
      if (i === wanted.length - 1) bytes[7] ^= 1
      return [cid, bytes]
    }))
    const { report, store } = await fetchFrom({ corrupt, honest })
    assert.equal(report.missing.length, 0)
    assert.equal(report.peers.find(p => p.dropped !== undefined)?.dropped?.code, P2PErrorCode.PEER_SENT_BAD_BLOCK)
    await assertAllStored(store)
  })
})

describe('fetching RUN frames into a disk store, for blocks known absent', () => {
  /** As a sync fetches over the data channel: runs received into page-placed arena memory, stored with `absent`. */
  async function fetchToDisk (peers: Record<string, Answer>, check: (store: BlockStore, report: Awaited<ReturnType<Fetch['run']>>, runs: number) => Promise<void>): Promise<void> {
    const [dir, cleanup] = await tempDir()
    const [disk, close] = await openTestDiskStore(dir)
    try {
      const arena = new BlockArena({ shared: true })
      let runs = 0
      const store = {
        put: disk.put.bind(disk),
        putMany: disk.putMany.bind(disk),
        putRun: async (...args: Parameters<typeof disk.putRun>) => { runs++; return await disk.putRun(...args) }
      }
      const addrs = Object.keys(peers).map((_, i) => multiaddr(`/ip4/127.0.0.1/tcp/${1000 + i}`))
      const answers = new Map(addrs.map((a, i) => [a.toString(), Object.values(peers)[i]]))
      const fetch = new Fetch({
        store,
        open: async (peer): Promise<OpenedStream> => ({ stream: scriptedStream(answers.get((peer as Multiaddr).toString())!, arena), channel: 'data' }),
        window: 8,
        openTimeout: 5000,
        idleTimeout: 5000,
        maxUnstoredBytes: 64 * 1024 * 1024,
        verifier: new BlockVerifier(false),
        arena,
        log
      }, cids, { peers: addrs, signal: AbortSignal.timeout(20_000), absent: true })
      const report = await fetch.run()
      await disk.flush()
      await check(disk, report, runs)
    } finally {
      await close()
      await cleanup()
    }
  }

  async function assertAllOnDisk (store: BlockStore): Promise<void> {
    for (const [i, cid] of cids.entries()) assert.ok(Buffer.from(await store.get(cid)).equals(blocks[i]), `block ${i}`)
  }

  it('stores each run as it was received and every block reads back', async () => {
    await fetchToDisk({ a: honest }, async (store, report, runs) => {
      assert.equal(report.missing.length, 0)
      assert.equal(report.blocks, blocks.length)
      assert.ok(runs >= blocks.length / 8, `the runs went to the store whole (${runs} putRun calls)`)
      await assertAllOnDisk(store)
    })
  })

  it('stores the good blocks of a run that carries a corrupt one, and the corrupt one from another peer', async () => {
    const corrupt: Answer = (wanted) => encodeRun(wanted.map((cid, i) => {
      const bytes = Uint8Array.prototype.slice.call(byCid.get(cid.toString())!)
      if (i === 1) bytes[7] ^= 1
      return [cid, bytes]
    }))
    await fetchToDisk({ corrupt, honest }, async (store, report) => {
      assert.equal(report.missing.length, 0)
      assert.equal(report.peers.find(p => p.dropped !== undefined)?.dropped?.code, P2PErrorCode.PEER_SENT_BAD_BLOCK)
      await assertAllOnDisk(store)
    })
  })
})
