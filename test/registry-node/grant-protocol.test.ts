/**
 * `/rok/grant/1.0.0` between two real libp2p hosts on loopback: the serving node accepts
 * a grant signed by its pinned registry key for the presenting peer, and refuses (with
 * the reason code on the wire) another registry's grant, another peer's grant, garbage,
 * and an oversized frame — caching nothing for the refused ones.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { isRokError } from '../../protocol/errors.ts'
import { signGrant } from '../../protocol/grant.ts'
import { GRANT_PROTOCOL } from '../../protocol/grant-push.ts'
import { createRokHost, type RokHost } from '../../node/p2p/host.ts'
import { MemoryBlockStore } from '../../node/store/memory.ts'
import { PeerGrants } from '../../node/registry/peer-grants.ts'
import { presentGrant, serveGrants } from '../../node/registry/grant-push.ts'

describe('/rok/grant/1.0.0 between two hosts', { timeout: 120_000 }, () => {
  let server: RokHost
  let client: RokHost
  let registry: Awaited<ReturnType<typeof generateKeyPair>>
  let grants: PeerGrants
  let clientPeer: string
  const refusals: string[] = []

  before(async () => {
    registry = await generateKeyPair('Ed25519')
    const clientKey = await generateKeyPair('Ed25519')
    clientPeer = peerIdFromPrivateKey(clientKey).toString()
    server = await createRokHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], exchange: { store: new MemoryBlockStore() } })
    client = await createRokHost({ privateKey: clientKey, listen: ['/ip4/127.0.0.1/tcp/0'], exchange: { store: new MemoryBlockStore() } })
    grants = new PeerGrants({ registryKey: () => registry.publicKey })
    await serveGrants(server, {
      accept: async (peer, bytes) => (await grants.accept(peer, bytes)).expires,
      onRefused: (_peer, err) => { refusals.push((err as { code?: string }).code ?? err.message) }
    })
  })

  after(async () => {
    await client?.stop()
    await server?.stop()
  })

  const addr = (): ReturnType<RokHost['getMultiaddrs']>[number] => server.getMultiaddrs()[0]
  const refusedWith = (reason: string) => (e: unknown): boolean => isRokError(e, 'ERR_GRANT_REFUSED') && e.details.reason === reason

  it('accepts a grant for the presenting peer signed by the pinned key, and serves by it', async () => {
    const now = Date.now()
    const { bytes } = await signGrant({ peer: clientPeer, bucket: 'lab/data', rights: ['read'], issuedAt: now, expires: now + 60_000 }, registry)
    assert.equal(await presentGrant(client, addr(), bytes), now + 60_000)
    assert.deepEqual(grants.buckets(clientPeer), ['lab/data'])
  })

  it('refuses another registry, another peer, an expired grant and garbage, with the reason on the wire', async () => {
    const now = Date.now()
    const other = await generateKeyPair('Ed25519')
    const forged = await signGrant({ peer: clientPeer, bucket: 'lab/forged', rights: ['read'], issuedAt: now, expires: now + 60_000 }, other)
    await assert.rejects(presentGrant(client, addr(), forged.bytes), refusedWith('ERR_BAD_SIGNATURE'))
    const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const stolen = await signGrant({ peer: someoneElse, bucket: 'lab/stolen', rights: ['read'], issuedAt: now, expires: now + 60_000 }, registry)
    await assert.rejects(presentGrant(client, addr(), stolen.bytes), refusedWith('ERR_GRANT_NOT_FOR_PEER'))
    const old = await signGrant({ peer: clientPeer, bucket: 'lab/old', rights: ['read'], issuedAt: now - 120_000, expires: now - 60_000 }, registry)
    await assert.rejects(presentGrant(client, addr(), old.bytes), refusedWith('ERR_GRANT_EXPIRED'))
    await assert.rejects(presentGrant(client, addr(), new Uint8Array([1, 2, 3])), refusedWith('ERR_INVALID_GRANT'))
    assert.deepEqual(grants.buckets(clientPeer), ['lab/data'], 'nothing refused was cached')
  })

  it('closes a stream whose frame announces more than the bound, without reading it', async () => {
    const stream = await client.dialProtocol(addr(), GRANT_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 1 << 20)
    stream.send(header)
    const closed = await new Promise<boolean>(resolve => {
      const timer = setTimeout(() => { resolve(false) }, 10_000)
      stream.addEventListener('close', () => { clearTimeout(timer); resolve(true) }, { once: true })
    })
    assert.ok(closed, 'the server aborted the stream')
    assert.ok(refusals.some(r => r === 'ERR_INVALID_MESSAGE'), refusals.join(', '))
  })
})
