/**
 * The chunk exchange between real libp2p nodes: test peers run in their own processes on
 * loopback; the test process runs the fetching node.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { chunkCid } from '../../protocol/cid.ts'
import { EXCHANGE_PROTOCOL, encodeCancel, encodeWant, MAX_CIDS_PER_MESSAGE } from '../../protocol/exchange.ts'
import { readFrames } from '../../node/p2p/exchange/stream-frames.ts'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { blockCids } from './fixtures/blocks.ts'
import { spawnPeer, type TestPeer } from './fixtures/spawn.ts'
import { assertStoredIntact, client, type Client } from './fixtures/client.ts'
import type { FetchProgressEvent } from '../../node/p2p/exchange/index.ts'
import type { Stream } from '@libp2p/interface'

const TIMEOUT = 180_000
const spec = { seed: 11, count: 96, size: 192 * 1024 }


/** Resolves when the remote end closes or resets the stream. */
async function streamEnded (stream: Stream, timeoutMs = 60_000): Promise<string> {
  if (stream.status !== 'open') return stream.status
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`stream still ${stream.status} after ${timeoutMs} ms`)) }, timeoutMs)
    const done = (): void => { clearTimeout(timer); resolve(stream.status) }
    stream.addEventListener('close', done, { once: true })
    stream.addEventListener('remoteCloseWrite', done, { once: true })
  })
}

describe('chunk exchange between processes', { timeout: TIMEOUT }, () => {
  const peers: TestPeer[] = []
  const clients: Client[] = []
  let good1: TestPeer, good2: TestPeer, corrupt: TestPeer, closed: TestPeer

  before(async () => {
    [good1, good2, corrupt, closed] = await Promise.all([
      spawnPeer({ blocks: [spec], allow: 'all' }),
      spawnPeer({ blocks: [spec], allow: 'all' }),
      spawnPeer({ blocks: [spec], allow: 'all', corrupt: true }),
      // holds the blocks but allows nobody (the default)
      spawnPeer({ blocks: [spec] })
    ])
    peers.push(good1, good2, corrupt, closed)
  })

  after(async () => {
    await Promise.all(clients.map(async c => { await c.host.stop() }))
    await Promise.all(peers.map(async p => { await p.stop() }))
  })

  it('fetches blocks from two peers in parallel, verified and stored', async () => {
    const c = await client()
    clients.push(c)
    // connected first, so that neither peer's dial (slow on a loaded machine) decides who works
    await Promise.all([good1, good2].map(async p => await c.host.dial(multiaddr(p.addr))))
    const events: FetchProgressEvent[] = []
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
      peers: [multiaddr(good1.addr), multiaddr(good2.addr)],
      signal: AbortSignal.timeout(TIMEOUT),
      onProgress: (e) => events.push(e)
    })
    assert.equal(report.missing.length, 0)
    assert.equal(report.blocks, spec.count)
    assert.equal(report.bytes, spec.count * spec.size)
    assert.equal(c.store.size, spec.count)
    await assertStoredIntact(c.store, spec)
    const byPeer = new Map(report.peers.map(p => [p.peer, p]))
    // both peers did part of the work, and the parts add up
    assert.ok(byPeer.get(good1.peerId)!.blocks > 0, 'first peer served nothing')
    assert.ok(byPeer.get(good2.peerId)!.blocks > 0, 'second peer served nothing')
    assert.equal(byPeer.get(good1.peerId)!.bytes + byPeer.get(good2.peerId)!.bytes, report.bytes)
    assert.equal(events.filter(e => e.type === 'exchange:block:received').length, spec.count)
  })

  it('drops a peer that sends corrupted bytes and gets every block elsewhere', async () => {
    // one block in flight per peer: the good peer cannot finish all 96 before the corrupting
    // peer's stream is open and it has been asked for something
    const c = await client(1)
    clients.push(c)
    await Promise.all([corrupt, good1].map(async p => await c.host.dial(multiaddr(p.addr))))
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
      // the corrupting peer is listed first so it is certainly asked
      peers: [multiaddr(corrupt.addr), multiaddr(good1.addr)],
      signal: AbortSignal.timeout(TIMEOUT)
    })
    assert.equal(report.missing.length, 0)
    assert.equal(c.store.size, spec.count)
    await assertStoredIntact(c.store, spec)
    const bad = report.peers.find(p => p.peer === corrupt.peerId)!
    assert.equal(bad.dropped?.code, P2PErrorCode.PEER_SENT_BAD_BLOCK)
    assert.equal(bad.blocks, 0)
    assert.equal(report.peers.find(p => p.peer === good1.peerId)!.blocks, spec.count)
  })

  it('reports blocks missing when the only peer is a corrupting one, and stores nothing wrong', async () => {
    const c = await client()
    clients.push(c)
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
      peers: [multiaddr(corrupt.addr)], signal: AbortSignal.timeout(TIMEOUT)
    })
    assert.equal(report.missing.length, spec.count)
    assert.equal(c.store.size, 0)
  })

  it('gives an unauthorized peer nothing', async () => {
    const c = await client()
    clients.push(c)
    const before = (await closed.request('stats')).serve
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
      peers: [multiaddr(closed.addr)], signal: AbortSignal.timeout(TIMEOUT)
    })
    assert.equal(report.blocks, 0)
    assert.equal(report.missing.length, spec.count)
    assert.equal(c.store.size, 0)
    const after = (await closed.request('stats')).serve
    assert.equal(after.blocks, before.blocks)
    assert.equal(after.refused - before.refused, spec.count)
  })

  it('treats a failing authorization hook as a refusal, whether its promise rejects or it throws', async () => {
    for (const allow of ['throw', 'throw-now'] as const) {
      const failing = await spawnPeer({ blocks: [spec], allow })
      peers.push(failing)
      const c = await client()
      clients.push(c)
      const report = await c.host.services.exchange.fetchBlocks(blockCids(spec).slice(0, 8), {
        peers: [multiaddr(failing.addr)], signal: AbortSignal.timeout(TIMEOUT)
      })
      assert.equal(report.missing.length, 8, allow)
      assert.equal(report.peers[0].dropped, undefined, `the peer broke the stream instead of refusing (${allow})`)
      const stats = (await failing.request('stats')).serve
      assert.equal(stats.refused, 8, allow)
      assert.equal(stats.blocks, 0, allow)
    }
  })

  it('closes streams carrying malformed or oversized messages and keeps serving', async () => {
    const c = await client()
    clients.push(c)
    const addr = multiaddr(good1.addr)
    const before = (await good1.request('stats')).serve
    const garbage: Array<[string, Uint8Array]> = [
      ['oversized length', new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
      ['unknown type', new Uint8Array([0, 0, 0, 1, 0x42])],
      ['server-only message from a client', new Uint8Array([0, 0, 0, 3, 0x04, 0, 0])],
      ['malformed CID', new Uint8Array([0, 0, 0, 8, 0x01, 0, 1, 0, 3, 1, 2, 3])]
    ]
    for (const [name, bytes] of garbage) {
      const stream = await c.host.dialProtocol(addr, EXCHANGE_PROTOCOL)
      stream.send(bytes)
      const status = await streamEnded(stream)
      assert.notEqual(status, 'open', name)
    }
    const after = (await good1.request('stats')).serve
    assert.ok(after.rejectedStreams - before.rejectedStreams >= garbage.length, `server rejected ${after.rejectedStreams - before.rejectedStreams} streams`)
    // the server is alive and serves a well-behaved fetch afterwards
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec).slice(0, 8), { peers: [addr], signal: AbortSignal.timeout(TIMEOUT) })
    assert.equal(report.blocks, 8)
  })

  it('survives a want flood without running out of memory', async () => {
    const c = await client()
    clients.push(c)
    const addr = multiaddr(good2.addr)
    const rssBefore = (await good2.request('stats')).rss as number
    const cids = blockCids(spec)
    // 200 × 1024 wants for real blocks (~19 GiB if all were served), sent without reading a byte
    const entries = Array.from({ length: MAX_CIDS_PER_MESSAGE }, (_, i) => ({ cid: cids[i % cids.length], kind: 'block' as const }))
    const message = encodeWant(entries)
    const stream = await c.host.dialProtocol(addr, EXCHANGE_PROTOCOL)
    stream.pause()
    for (let i = 0; i < 200 && stream.status === 'open'; i++) {
      if (!stream.send(message)) await Promise.race([stream.onDrain(), streamEnded(stream)])
    }
    assert.notEqual(await streamEnded(stream), 'open')
    const stats = await good2.request('stats')
    assert.ok(stats.serve.rejectedStreams >= 1, 'the flooding stream was not rejected')
    // the server held at most its pending-want bound worth of work, not the flood
    assert.ok(stats.rss - rssBefore < 256 * 1024 * 1024, `server RSS grew by ${((stats.rss - rssBefore) / 1e6).toFixed(0)} MB`)
    const report = await c.host.services.exchange.fetchBlocks(cids.slice(0, 8), { peers: [addr], signal: AbortSignal.timeout(TIMEOUT) })
    assert.equal(report.blocks, 8)
  })

  it('moves the work of a peer that dies mid-fetch to the others', async () => {
    // large enough (96 MiB) that the fetch is far from done when the doomed peer dies
    const big = { seed: 12, count: 384, size: 256 * 1024 }
    const [doomed, survivor] = await Promise.all([spawnPeer({ blocks: [big], allow: 'all' }), spawnPeer({ blocks: [big], allow: 'all' })])
    peers.push(doomed, survivor)
    const c = await client()
    clients.push(c)
    let killed = false
    const report = await c.host.services.exchange.fetchBlocks(blockCids(big), {
      peers: [multiaddr(doomed.addr), multiaddr(survivor.addr)],
      signal: AbortSignal.timeout(TIMEOUT),
      onProgress: (e) => {
        if (!killed && e.type === 'exchange:block:received' && e.detail.peer === doomed.peerId) {
          killed = true
          void doomed.stop()
        }
      }
    })
    assert.ok(killed, 'the doomed peer served nothing before it was killed')
    assert.equal(report.missing.length, 0)
    assert.equal(c.store.size, big.count)
    assert.equal(report.peers.find(p => p.peer === doomed.peerId)!.dropped?.code, P2PErrorCode.PEER_GONE)
  })

  it('skips a peer that cannot be reached', async () => {
    const gone = await spawnPeer()
    await gone.stop()
    const c = await client()
    clients.push(c)
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec).slice(0, 16), {
      peers: [multiaddr(gone.addr), multiaddr(good1.addr)], signal: AbortSignal.timeout(TIMEOUT)
    })
    assert.equal(report.blocks, 16)
    assert.equal(report.peers.find(p => p.peer === gone.peerId)!.dropped?.code, P2PErrorCode.TIMEOUT)
  })

  it('forgets cancelled wants and closes the stream once every other want is answered', async () => {
    const c = await client()
    clients.push(c)
    const cids = blockCids(spec)
    const stream = await c.host.dialProtocol(multiaddr(good1.addr), EXCHANGE_PROTOCOL)
    let answers = 0
    const ended = Promise.withResolvers<void>()
    readFrames(stream, {
      onMessage: (m) => { answers += m.type === 'block' ? 1 : ('cids' in m ? m.cids.length : 0) },
      onInvalid: (err) => { ended.reject(err) },
      onEnd: () => { ended.resolve() }
    })
    // 1000 wants (~190 MB if served) and their cancels in the same write: the server can
    // have started only a few of them when the cancel arrives
    const wants = Array.from({ length: 1000 }, (_, i) => cids[i % cids.length])
    stream.send(encodeWant(wants.map(cid => ({ cid, kind: 'block' as const }))))
    stream.send(encodeCancel(wants.slice(0, MAX_CIDS_PER_MESSAGE)))
    // and one have-want that is answered, then our side is done
    stream.send(encodeWant([{ cid: cids[0], kind: 'have' }]))
    await stream.close()
    await ended.promise
    assert.ok(answers >= 1 && answers < 100, `server answered ${answers} of 1001 wants after 1000 were cancelled`)
  })

  it('rejects a fetch with no peers, and honours an abort', async () => {
    const c = await client()
    clients.push(c)
    await assert.rejects(c.host.services.exchange.fetchBlocks([chunkCid(new Uint8Array(1))], { peers: [] }), { code: P2PErrorCode.NO_PEERS })
    const controller = new AbortController()
    const fetching = c.host.services.exchange.fetchBlocks(blockCids(spec), { peers: [multiaddr(good1.addr)], signal: controller.signal })
    controller.abort(new Error('stop'))
    await assert.rejects(fetching, /stop/)
  })

  it('keeps what a node serves to all its peers together under its upload cap', async () => {
    const rate = 2_000_000
    const small = { seed: 12, count: 24, size: 128 * 1024 }
    const capped = await spawnPeer({ blocks: [small], allow: 'all', maxUploadRate: rate })
    peers.push(capped)
    const [a, b] = await Promise.all([client(), client()])
    clients.push(a, b)
    await Promise.all([a, b].map(async c => await c.host.dial(multiaddr(capped.addr))))
    const started = performance.now()
    const reports = await Promise.all([a, b].map(async c => await c.host.services.exchange.fetchBlocks(blockCids(small), {
      peers: [multiaddr(capped.addr)], signal: AbortSignal.timeout(TIMEOUT)
    })))
    const seconds = (performance.now() - started) / 1000
    const bytes = reports.reduce((sum, r) => sum + r.bytes, 0)
    assert.equal(bytes, 2 * small.count * small.size)
    // one bucket for both streams: ~6.3 MB at 2 MB/s, less the 200 KB burst
    const expected = (bytes - 0.1 * rate) / rate
    assert.ok(seconds >= expected * 0.95, `served ${bytes} bytes in ${seconds.toFixed(2)} s, faster than the cap allows (${expected.toFixed(2)} s)`)
    assert.ok(seconds < expected * 3, `served in ${seconds.toFixed(2)} s, far slower than the cap (${expected.toFixed(2)} s)`)
    const stats = await capped.request('stats')
    assert.equal(stats.serve.maxUploadRate, rate)
  })
})
