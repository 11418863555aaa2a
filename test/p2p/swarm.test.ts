/**
 * Discovery and announcements between real libp2p nodes in separate processes: Rok's own
 * kad-dht (provider records) and gossipsub (with the topic-validator hook).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { chunkCid } from '../../protocol/cid.ts'
import { DHT_PROTOCOL } from '../../node/p2p/constants.ts'
import { spawnPeer, type TestPeer } from './fixtures/spawn.ts'

const TIMEOUT = 180_000

/** Poll `check` until it returns true (the swarm forms asynchronously). */
async function eventually (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`)
}

describe('swarm of node processes', { timeout: TIMEOUT }, () => {
  const peers: TestPeer[] = []
  after(async () => { await Promise.all(peers.map(async p => { await p.stop() })) })

  it('finds a provider through the Rok DHT, which is not the IPFS DHT', async () => {
    const a = await spawnPeer()
    peers.push(a)
    const [b, c] = await Promise.all([spawnPeer({ bootstrap: [a.addr] }), spawnPeer({ bootstrap: [a.addr] })])
    peers.push(b, c)
    const protocols: string[] = await a.request('protocols')
    assert.ok(protocols.includes(DHT_PROTOCOL), `node speaks ${protocols.join(', ')}`)
    assert.ok(!protocols.some(p => p.startsWith('/ipfs/kad/')), 'node joined the public IPFS DHT protocol')
    // B and C know each other only through A's routing table
    await eventually('A learns that B and C speak the Rok DHT', async () => {
      const [pb, pc]: string[][] = await Promise.all([a.request('peerProtocols', { peer: b.peerId }), a.request('peerProtocols', { peer: c.peerId })])
      return pb.includes(DHT_PROTOCOL) && pc.includes(DHT_PROTOCOL)
    })
    const cid = chunkCid(new TextEncoder().encode(`version record ${Date.now()}`)).toString()
    await b.request('provide', { cid })
    let found: string[] = []
    await eventually('C finds B as provider', async () => {
      found = await c.request('findProviders', { cid })
      return found.includes(b.peerId)
    })
    assert.ok(found.includes(b.peerId))
  })

  it('delivers gossip to every subscriber in a three-node swarm, and the validator rejects what it must', async () => {
    const topic = 'rok/bucket/acme/imagenet-small'
    const a = await spawnPeer({ topics: [topic], rejectPrefix: 'forged' })
    peers.push(a)
    const [b, c] = await Promise.all([
      spawnPeer({ bootstrap: [a.addr], topics: [topic], rejectPrefix: 'forged' }),
      spawnPeer({ bootstrap: [a.addr], topics: [topic], rejectPrefix: 'forged' })
    ])
    peers.push(b, c)
    await eventually('A sees B and C subscribed', async () => {
      const subs: string[] = await a.request('subscribers', { topic })
      return subs.includes(b.peerId) && subs.includes(c.peerId)
    })
    // a rejected message first: if the validator let it through, it would arrive before the good one
    await a.request('publish', { topic, data: 'forged version 2' })
    await a.request('publish', { topic, data: 'version 2' })
    for (const peer of [b, c]) {
      const event = await peer.nextEvent(e => e.type === 'gossip' && e.topic === topic)
      assert.equal(event.data, 'version 2')
      assert.equal(event.from, a.peerId)
    }
  })

  it('publishes to a topic nobody follows yet without failing', async () => {
    const lonely = await spawnPeer({ topics: ['rok/bucket/acme/empty'] })
    peers.push(lonely)
    const recipients: string[] = await lonely.request('publish', { topic: 'rok/bucket/acme/empty', data: 'v1' })
    assert.deepEqual(recipients, [])
  })
})
