/**
 * The exchange's data channel: blocks over a direct TLS socket negotiated over libp2p,
 * between real processes. A serving test peer runs in its own process; the fetching
 * node runs in the test process. The last suite runs two `rok node start` daemons in
 * network namespaces and firewalls the publisher's data port.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { isRokError } from '../../protocol/errors.ts'
import { connectPinned, requestOffer } from '../../node/p2p/exchange/data-channel/client.ts'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { blockCids } from './fixtures/blocks.ts'
import { spawnPeer, type TestPeer } from './fixtures/spawn.ts'
import { assertStoredIntact, client, type Client } from './fixtures/client.ts'
import { createWan, netnsUnavailable, type Wan } from '../fixtures/netns.ts'
import { tempDir } from '../fixtures/seeded.ts'
import { rokJsonIn, startNodeIn, synced, type NsNode } from '../multicloud/cluster.ts'
import { initHome, metricsOf, runRok, startDaemon, writeDataset, type Daemon } from '../sync/daemons.ts'

const TIMEOUT = 180_000
const spec = { seed: 23, count: 64, size: 64 * 1024 }


/** Rejects with the error `connectPinned` gives, or fails the test when it connects. */
async function refusedWith (promise: Promise<{ destroy: () => void }>): Promise<Error> {
  try {
    const socket = await promise
    socket.destroy()
  } catch (err) {
    return err as Error
  }
  assert.fail('the data channel opened')
}

describe('exchange data channel between processes', { timeout: TIMEOUT }, () => {
  let server: TestPeer
  let corrupt: TestPeer
  let streamsOnly: TestPeer
  const clients: Client[] = []

  before(async () => {
    [server, corrupt, streamsOnly] = await Promise.all([
      spawnPeer({ blocks: [spec], allow: 'all' }),
      spawnPeer({ blocks: [spec], allow: 'all', corrupt: true }),
      spawnPeer({ blocks: [spec], allow: 'all', dataChannel: false })
    ])
  })

  after(async () => {
    await Promise.all(clients.map(async c => { await c.host.stop() }))
    await Promise.all([server, corrupt, streamsOnly].map(async p => { await p?.stop() }))
  })

  it('moves every block over the data channel, verified and stored, and the next fetch reuses the socket', async () => {
    const c = await client()
    clients.push(c)
    const cids = blockCids(spec)
    const first = await c.host.services.exchange.fetchBlocks(cids.slice(0, 32), { peers: [multiaddr(server.addr)], signal: AbortSignal.timeout(TIMEOUT) })
    const second = await c.host.services.exchange.fetchBlocks(cids.slice(32), { peers: [multiaddr(server.addr)], signal: AbortSignal.timeout(TIMEOUT) })
    for (const report of [first, second]) {
      assert.equal(report.missing.length, 0)
      assert.equal(report.peers[0].channel, 'data')
    }
    assert.equal(c.store.size, spec.count)
    await assertStoredIntact(c.store, spec)
    const served = (await server.request('stats')).serve
    assert.equal(served.dataChannel.bytes, spec.count * spec.size, 'every block went over the data channel')
    assert.equal(served.dataChannel.accepted, 1, 'the second fetch reused the first one\'s socket')
    assert.equal(served.dataChannel.refused, 0)
  })

  it('a small fetch does not wait for a data channel: it goes over a libp2p stream, and the socket it leaves opening serves the next fetches', async () => {
    const c = await client()
    clients.push(c)
    const cids = blockCids(spec)
    const peers = [multiaddr(server.addr)]
    const signal = AbortSignal.timeout(TIMEOUT)
    const before = (await server.request('stats')).serve.dataChannel
    const first = await c.host.services.exchange.fetchBlocks(cids.slice(0, 1), { peers, signal, small: true })
    assert.equal(first.peers[0].channel, 'stream')
    // a small fetch takes the socket once it is pooled (its handshake runs in the background)
    let channel: string | undefined = first.peers[0].channel
    let next = 1
    while (channel !== 'data' && next < 40) {
      await new Promise(resolve => setTimeout(resolve, 50))
      channel = (await c.host.services.exchange.fetchBlocks(cids.slice(next, next + 1), { peers, signal, small: true })).peers[0].channel
      next++
    }
    assert.equal(channel, 'data')
    const rest = await c.host.services.exchange.fetchBlocks(cids.slice(next), { peers, signal })
    assert.equal(rest.peers[0].channel, 'data')
    assert.equal(c.store.size, spec.count)
    await assertStoredIntact(c.store, spec)
    const after = (await server.request('stats')).serve.dataChannel
    assert.equal(after.accepted - before.accepted, 1, 'the socket opened in the background is the one every later fetch used')
  })

  it('falls back to a libp2p stream when the peer offers no data channel', async () => {
    const c = await client()
    clients.push(c)
    const report = await c.host.services.exchange.fetchBlocks(blockCids(spec), { peers: [multiaddr(streamsOnly.addr)], signal: AbortSignal.timeout(TIMEOUT) })
    assert.equal(report.missing.length, 0)
    assert.equal(report.peers[0].channel, 'stream')
    await assertStoredIntact(c.store, spec)
    assert.equal((await streamsOnly.request('stats')).serve.dataChannel, undefined)
  })

  it('drops a peer that sends corrupted bytes over the data channel, and stores nothing wrong', async () => {
    // One block in flight per peer, both connected first, and the good peer capped at
    // 1 MB/s (4 MiB take it ~4 s): it cannot finish every block before the corrupting
    // peer's data channel is open and asked for something, however loaded the machine.
    const slow = await spawnPeer({ blocks: [spec], allow: 'all', maxUploadRate: 1_000_000 })
    const c = await client(1)
    clients.push(c)
    let report
    try {
      await Promise.all([corrupt, slow].map(async p => await c.host.dial(multiaddr(p.addr))))
      report = await c.host.services.exchange.fetchBlocks(blockCids(spec), {
        peers: [multiaddr(corrupt.addr), multiaddr(slow.addr)], signal: AbortSignal.timeout(TIMEOUT)
      })
    } finally {
      await slow.stop()
    }
    assert.equal(report.missing.length, 0)
    const bad = report.peers.find(p => p.peer === corrupt.peerId)!
    assert.equal(bad.channel, 'data')
    assert.equal(bad.dropped?.code, P2PErrorCode.PEER_SENT_BAD_BLOCK)
    assert.equal(bad.blocks, 0)
    await assertStoredIntact(c.store, spec)
  })

  it('refuses a wrong ticket and a ticket used twice, and a client refuses a certificate it was not offered', async () => {
    const c = await client()
    clients.push(c)
    const connection = await c.host.dial(multiaddr(server.addr))
    const signal = AbortSignal.timeout(30_000)
    const before = (await server.request('stats')).serve.dataChannel

    // a ticket the server never issued: TLS opens (the certificate is the offered one), the ticket is refused
    const offer = await requestOffer(connection, signal)
    const wrong = await refusedWith(connectPinned('127.0.0.1', { ...offer, ticket: randomBytes(32) }, signal))
    assert.ok(isRokError(wrong, P2PErrorCode.DATA_CHANNEL_UNAVAILABLE), wrong.message)
    assert.match(wrong.message, /did not accept the ticket/)

    // the issued ticket works once, over TLS 1.3 with the cheaper AES-128-GCM
    const socket = await connectPinned('127.0.0.1', offer, signal)
    assert.equal(socket.getProtocol(), 'TLSv1.3')
    assert.equal(socket.getCipher().standardName, 'TLS_AES_128_GCM_SHA256')
    socket.destroy()
    const reused = await refusedWith(connectPinned('127.0.0.1', offer, signal))
    assert.match(reused.message, /did not accept the ticket/)

    // another certificate than the offered one: the client stops before its ticket leaves
    const other = await requestOffer(connection, signal)
    const untrusted = await refusedWith(connectPinned('127.0.0.1', { ...other, fingerprint: randomBytes(32) }, signal))
    assert.ok(isRokError(untrusted, P2PErrorCode.DATA_CHANNEL_UNTRUSTED), untrusted.message)
    // and that ticket, never presented, is still good
    ;(await connectPinned('127.0.0.1', other, signal)).destroy()

    const after = (await server.request('stats')).serve.dataChannel
    assert.equal(after.refused - before.refused, 2, 'the wrong ticket and the reused one')
    assert.equal(after.accepted - before.accepted, 2)
  })
})

describe('data channel between two rok node daemons', { timeout: 300_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  const running: Daemon[] = []

  before(async () => { [dir, cleanup] = await tempDir('rok-data-channel-') })
  after(async () => {
    await Promise.all(running.map(async d => { await d.kill() }))
    await cleanup()
  })

  it('a sync takes its chunks over the data channel (the publisher counts them in its metrics)', async () => {
    const [ha, hb] = [join(dir, 'a'), join(dir, 'b')]
    await Promise.all([initHome(ha), initHome(hb)])
    const a = await startDaemon(ha)
    running.push(a)
    const b = await startDaemon(hb, ['--bootstrap', a.addr])
    running.push(b)
    const src = join(dir, 'src')
    await writeDataset(src, 5, 8, 1024 * 1024)
    await a.rok('allow', 'lab/dc', b.peerId)
    const v1 = await a.rok('publish', src, '--bucket', 'lab/dc')
    await b.rok('subscribe', 'lab/dc', '--peer', a.addr)
    const report = await b.rok('sync', 'lab/dc')
    assert.equal(report.toSeq, 1)
    const metrics = await metricsOf(a)
    assert.ok(metrics.exchange_data_channel_sockets_accepted >= 1, 'B opened a data channel to A')
    assert.ok(metrics.exchange_data_channel_bytes_served >= v1.newBytes, `A served ${metrics.exchange_data_channel_bytes_served} bytes over the data channel for ${v1.newBytes} new bytes`)
    // the first manifest nodes do not wait for the channel's handshake (FetchOptions.small): only they may go over a libp2p stream
    const overStreams = metrics.exchange_stream_bytes_served - metrics.exchange_data_channel_bytes_served
    assert.ok(overStreams < 64 * 1024, `${overStreams} bytes over libp2p streams: more than this version's manifest`)

    // a node started with --data-channel off serves the same sync over libp2p streams
    const hc = join(dir, 'c')
    await initHome(hc)
    const c = await startDaemon(hc, ['--data-channel', 'off', '--bootstrap', a.addr])
    running.push(c)
    await writeDataset(join(dir, 'src-c'), 6, 2, 1024 * 1024)
    await c.rok('allow', 'lab/off', b.peerId)
    const v = await c.rok('publish', join(dir, 'src-c'), '--bucket', 'lab/off')
    await b.rok('subscribe', 'lab/off', '--peer', c.addr)
    assert.equal((await b.rok('sync', 'lab/off')).toSeq, 1)
    const off = await metricsOf(c)
    assert.equal(off.exchange_data_channel_sockets_accepted, 0)
    assert.ok(off.exchange_stream_bytes_served >= v.newBytes, `C served ${off.exchange_stream_bytes_served} bytes over libp2p streams for ${v.newBytes} new bytes`)
  })

  it('rok node start refuses a --data-channel other than on or off, a port out of range, and a port with off', async () => {
    const home = join(dir, 'bad')
    await initHome(home)
    for (const [args, message] of [
      [['--data-channel', 'sometimes'], /--data-channel takes 'on' or 'off', not 'sometimes'/],
      [['--data-port', '70000'], /--data-port 70000 is not a TCP port/],
      [['--data-channel', 'off', '--data-port', '4000'], /--data-port has no effect with --data-channel off/]
    ] as const) {
      const r = await runRok(['node', 'start', '--home', home, ...args])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, message)
    }
  })
})

const skip = await netnsUnavailable()

describe('data channel behind a firewall (network namespaces)', { skip: skip ?? false, timeout: 300_000 }, () => {
  let wan: Wan
  let dir: string
  let cleanup: () => Promise<void>
  let a: NsNode
  let b: NsNode
  const DATA_PORT = 4710

  before(async () => {
    [dir, cleanup] = await tempDir('rok-dc-wan-')
    wan = await createWan({ clouds: 2, rateMbit: 1000 })
    const [ha, hb] = [join(dir, 'a'), join(dir, 'b')]
    await Promise.all([rokJsonIn(wan, wan.clouds[0], ['init', '--home', ha]), rokJsonIn(wan, wan.clouds[1], ['init', '--home', hb])])
    a = await startNodeIn(wan, wan.clouds[0], ha, 4701, ['--data-port', String(DATA_PORT)])
    b = await startNodeIn(wan, wan.clouds[1], hb, 4702, ['--bootstrap', `/ip4/${wan.clouds[0].ip}/tcp/4701`])
  })

  after(async () => {
    await wan?.destroy()
    await cleanup?.()
  })

  it('a sync completes over libp2p streams when the data port drops every packet', async () => {
    // the firewall drops (no RST): the client's connect can only time out
    const fw = await wan.run(wan.clouds[0], 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(DATA_PORT), '-j', 'DROP'])
    assert.equal(fw.code, 0, fw.stderr)
    const src = join(dir, 'src')
    await writeDataset(src, 9, 4, 1024 * 1024)
    await a.rok('allow', 'lab/fw', b.peerId)
    const v1 = await a.rok('publish', src, '--bucket', 'lab/fw')
    await b.rok('subscribe', 'lab/fw', '--peer', a.addr)
    const last = await synced(b, 'lab/fw', 1)
    assert.ok(last.chunkBytes >= v1.newBytes * 0.99, `B received ${last.chunkBytes} of ${v1.newBytes} new bytes`)
    const status = await a.status()
    assert.ok(status.served.bytes >= v1.newBytes, 'A served the chunks over libp2p streams')
  })
})
