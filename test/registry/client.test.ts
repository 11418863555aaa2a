/** The typed client against a registry listening on loopback (real HTTP). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startRegistryServer, type RunningRegistry } from '../../registry/server.ts'
import { createRegistryClient } from '../../registry/client.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { grantAllows, verifyGrant } from '../../protocol/grant.ts'
import { isRokError } from '../../protocol/errors.ts'
import { ADMIN_TOKEN, nodeKey, versionRecord } from './helpers.ts'

async function running (): Promise<[RunningRegistry, () => Promise<void>]> {
  const dir = await mkdtemp(join(tmpdir(), 'rok-registry-http-'))
  const registry = await startRegistryServer({ dataDir: dir, adminToken: ADMIN_TOKEN, port: 0, rateLimit: false })
  return [registry, async () => { await registry.close(); await rm(dir, { recursive: true, force: true }) }]
}

test('a node and a subscriber do the whole registry journey through the client over HTTP', async () => {
  const [registry, cleanup] = await running()
  try {
    const admin = createRegistryClient({ url: registry.url, token: ADMIN_TOKEN })
    const alice = createRegistryClient({ url: registry.url, token: (await admin.createUser('alice')).token })
    const bob = createRegistryClient({ url: registry.url, token: (await admin.createUser('bob')).token })
    assert.deepEqual(await alice.login(), { user: 'alice', admin: false })

    await alice.createGroup({ name: 'acme', visibility: 'private', description: 'Acme ML' })
    await alice.createBucket('acme/imagenet-small', { description: 'ImageNet subset', tags: ['vision'] })
    await alice.setMember('acme', 'bob', 'reader')

    // Publisher node: register by challenge, append two versions (a retry is harmless).
    const pubKey = await nodeKey()
    const pubNode = await alice.registerNode(pubKey, ['/ip4/127.0.0.1/tcp/4001'])
    assert.equal(pubNode.peer, peerIdFromPrivateKey(pubKey).toString())
    const v1 = await versionRecord(pubKey, 'acme/imagenet-small', 1, null)
    const v2 = await versionRecord(pubKey, 'acme/imagenet-small', 2, v1.cid)
    assert.equal((await alice.appendVersion('acme/imagenet-small', v1.bytes)).seq, 1)
    assert.equal((await alice.appendVersion('acme/imagenet-small', v1.bytes)).cid, v1.cid.toString())
    await alice.appendVersion('acme/imagenet-small', v2.bytes)

    // Subscriber: find, list history, verify a record, get a grant, find providers.
    const found = await bob.search({ q: 'imagenet' })
    assert.deepEqual(found.results.map(b => b.bucket), ['acme/imagenet-small'])
    const history = await bob.listVersions('acme/imagenet-small')
    assert.deepEqual(history.versions.map(v => v.seq), [1, 2])
    const v = await bob.getVersion('acme/imagenet-small', 2)
    assert.equal((await decodeVersionRecord(v.recordBytes)).cid.toString(), v2.cid.toString())
    const subKey = await nodeKey()
    const subNode = await bob.registerNode(subKey, ['/ip4/127.0.0.1/tcp/4002'])
    const { grant, bytes } = await bob.requestGrant('acme/imagenet-small', subNode.peer)
    assert.ok(grantAllows(grant, subNode.peer, 'acme/imagenet-small', 'read'))
    assert.ok(!grant.rights.includes('publish'))
    await verifyGrant(bytes, await bob.publicKey(), Date.now())
    const renewed = await bob.renewGrant('acme/imagenet-small', subNode.peer)
    assert.ok(renewed.grant.expires >= grant.expires)
    await bob.announceProvider('acme/imagenet-small', subNode.peer, 2)
    const providers = await bob.listProviders('acme/imagenet-small')
    assert.deepEqual(providers.map(p => p.peer).sort(), [pubNode.peer, subNode.peer].sort())

    // Rules, tokens and audit.
    await alice.addRule('acme/imagenet-small', { subject: 'user:bob', right: 'read', effect: 'deny' })
    assert.deepEqual(await alice.listRules('acme/imagenet-small'), [{ subject: 'user:bob', right: 'read', effect: 'deny' }])
    await assert.rejects(bob.requestGrant('acme/imagenet-small', subNode.peer), (e: unknown) => isRokError(e, 'ERR_NOT_FOUND'))
    assert.deepEqual(await alice.removeRule('acme/imagenet-small', { subject: 'user:bob', right: 'read', effect: 'deny' }), [])
    const extra = await bob.createToken()
    assert.equal((await bob.listTokens()).length, 2)
    await bob.revokeToken(extra.id)
    await assert.rejects(createRegistryClient({ url: registry.url, token: extra.token }).whoami(), (e: unknown) => isRokError(e, 'ERR_UNAUTHENTICATED'))
    const audit = await admin.audit({ limit: 5 })
    assert.deepEqual(audit.slice(0, 2).map(a => a.action), ['token.revoke', 'token.create'])
    assert.equal((await alice.listNodes()).length, 1)
    assert.equal((await alice.updateBucket('acme/imagenet-small', { description: 'smaller' })).description, 'smaller')
    assert.equal((await alice.getGroup('acme')).members.length, 2)
    assert.equal((await alice.removeMember('acme', 'bob')).members.length, 1)
  } finally { await cleanup() }
})

test('client errors carry the registry code and status; bad input is caught before sending', async () => {
  const [registry, cleanup] = await running()
  try {
    const anon = createRegistryClient({ url: registry.url })
    await assert.rejects(anon.getBucket('acme/none'), (e: unknown) => isRokError(e, 'ERR_NOT_FOUND') && e.details.status === 404)
    await assert.rejects(anon.createGroup({ name: 'g', visibility: 'private' }), (e: unknown) => isRokError(e, 'ERR_UNAUTHENTICATED'))
    await assert.rejects(anon.getBucket('../etc'), (e: unknown) => isRokError(e, 'ERR_INVALID_BUCKET_NAME'))
    assert.throws(() => createRegistryClient({ url: 'ftp://x' }), (e: unknown) => isRokError(e, 'ERR_INVALID_REQUEST'))
  } finally { await cleanup() }
})

test('an unreachable, slow or stopped registry is ERR_REGISTRY_UNAVAILABLE, and calls honour abort signals', async () => {
  const [registry, cleanup] = await running()
  const url = registry.url
  await cleanup()
  await assert.rejects(createRegistryClient({ url }).info(), (e: unknown) => isRokError(e, 'ERR_REGISTRY_UNAVAILABLE'))

  const slow = createServer(() => { /* never answers */ })
  await new Promise<void>(resolve => slow.listen(0, '127.0.0.1', resolve))
  try {
    const port = (slow.address() as { port: number }).port
    const client = createRegistryClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 200 })
    await assert.rejects(client.info(), (e: unknown) => isRokError(e, 'ERR_REGISTRY_UNAVAILABLE') && /within 200 ms/.test(e.message))
    const controller = new AbortController()
    const pending = createRegistryClient({ url: `http://127.0.0.1:${port}` }).info({ signal: controller.signal })
    controller.abort(new Error('stop'))
    await assert.rejects(pending, /stop/)
  } finally {
    slow.closeAllConnections()
    slow.close()
  }
})

test('graceful shutdown lets an in-flight request finish, then closes the store', async () => {
  const [registry, cleanup] = await running()
  try {
    const body = JSON.stringify({ name: 'late' })
    const { port } = new URL(registry.url)
    // Send the headers and half the body, start shutting down, then send the rest.
    const answer = new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
        let text = ''
        res.on('data', (d: Buffer) => { text += d.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      })
      req.on('error', reject)
      req.write(body.slice(0, 5))
      setTimeout(() => {
        closing = registry.close()
        setTimeout(() => req.end(body.slice(5)), 50)
      }, 50)
    })
    let closing: Promise<void> | undefined
    const res = await answer
    assert.equal(res.status, 201, res.body)
    await closing
    assert.equal(registry.state.store.db.status, 'closed')
    await assert.rejects(createRegistryClient({ url: registry.url }).info(), (e: unknown) => isRokError(e, 'ERR_REGISTRY_UNAVAILABLE'))
  } finally { await cleanup() }
})
