import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { isDirectTcp } from '../../node/p2p/gater.ts'
import { createRokHost, type RokHost } from '../../node/p2p/host.ts'
import { loadOrCreatePrivateKey } from '../../node/identity.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { spawnPeer, type TestPeer } from './fixtures/spawn.ts'

describe('node identity', () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) })) })

  it('creates an Ed25519 key once (mode 0600) and loads the same identity afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rok-id-'))
    dirs.push(dir)
    const file = join(dir, 'home', 'node.key')
    const first = await loadOrCreatePrivateKey(file)
    const second = await loadOrCreatePrivateKey(file)
    assert.equal(first.peerId, second.peerId)
    assert.match(first.peerId, /^12D3KooW/)
    const asLibp2p = privateKeyFromProtobuf(await readFile(file))
    assert.equal(asLibp2p.type, 'Ed25519', 'the file is a libp2p Ed25519 key')
    assert.equal(peerIdFromPrivateKey(asLibp2p).toString(), first.peerId, 'libp2p derives the same peer ID')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.ok((await readFile(file)).byteLength > 32)
  })

  it('refuses a file that is not a key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rok-id-'))
    dirs.push(dir)
    const file = join(dir, 'node.key')
    await writeFile(file, 'not a key')
    await assert.rejects(loadOrCreatePrivateKey(file), { code: P2PErrorCode.INVALID_PRIVATE_KEY })
  })
})

describe('host', { timeout: 120_000 }, () => {
  const hosts: RokHost[] = []
  const peers: TestPeer[] = []
  after(async () => {
    await Promise.all(hosts.map(async h => { await h.stop() }))
    await Promise.all(peers.map(async p => { await p.stop() }))
  })

  it('only dials direct TCP addresses', () => {
    assert.ok(isDirectTcp(multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWKbPvbtNPVH8G1itkCh5fdgEuzPY6hiA8nzcPKQvYGcHT')))
    assert.ok(isDirectTcp(multiaddr('/dns4/node.example/tcp/4001')))
    assert.ok(!isDirectTcp(multiaddr('/ip4/127.0.0.1/tcp/4001/ws')))
    assert.ok(!isDirectTcp(multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1')))
    assert.ok(!isDirectTcp(multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWKbPvbtNPVH8G1itkCh5fdgEuzPY6hiA8nzcPKQvYGcHT/p2p-circuit')))
  })

  it('prefers TLS, falls back to Noise, and refuses denied peers', async () => {
    const [tlsPeer, noisePeer] = await Promise.all([spawnPeer(), spawnPeer({ encryption: ['noise'] })])
    peers.push(tlsPeer, noisePeer)
    const host = await createRokHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      exchange: { store: new MemoryBlockStore() },
      isPeerDenied: (peer) => peer.toString() === noisePeer.peerId && denyNoisePeer
    })
    hosts.push(host)
    let denyNoisePeer = false
    assert.equal((await host.dial(multiaddr(tlsPeer.addr))).encryption, '/tls/1.0.0')
    const noiseConnection = await host.dial(multiaddr(noisePeer.addr))
    assert.equal(noiseConnection.encryption, '/noise')
    await noiseConnection.close()
    denyNoisePeer = true
    await assert.rejects(host.dial(multiaddr(noisePeer.addr)))
  })

  it('rejects a non-Ed25519 identity and malformed addresses with typed errors', async () => {
    const store = new MemoryBlockStore()
    await assert.rejects(createRokHost({ privateKey: await generateKeyPair('secp256k1'), exchange: { store } }), { code: P2PErrorCode.INVALID_PRIVATE_KEY })
    await assert.rejects(createRokHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['not-an-addr'], exchange: { store } }), { code: P2PErrorCode.INVALID_MULTIADDR })
  })
})
