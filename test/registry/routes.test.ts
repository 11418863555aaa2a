import { test } from 'node:test'
import assert from 'node:assert/strict'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { verifyGrant } from '../../protocol/grant.ts'
import { signNodeProof } from '../../protocol/node-proof.ts'
import { ADMIN_TOKEN, addUser, b64, expectOk, nodeKey, registerNode, startTestRegistry, versionRecord } from './helpers.ts'

test('the first start prints a generated admin token once; later starts do not', async () => {
  const [r, cleanup] = await startTestRegistry({ adminToken: undefined })
  let cleanup2
  try {
    assert.match(r.firstAdminToken ?? '', /^rok_/)
    const me = await expectOk(r.call('GET', '/v1/me', { token: r.firstAdminToken! }))
    assert.deepEqual(me, { user: 'admin', admin: true })
    await r.app.close()
    const [again, c2] = await startTestRegistry({ adminToken: undefined }, r.dir)
    cleanup2 = c2
    assert.equal(again.firstAdminToken, null)
    assert.equal((await again.call('GET', '/v1/me', { token: r.firstAdminToken! })).status, 200)
  } finally {
    await cleanup2?.()
    await cleanup().catch(() => {})
  }
})

test('an admin creates a user whose token works; tokens are stored hashed and can be revoked', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const created = await expectOk(r.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: { name: 'alice' } }), 201)
    assert.equal((await expectOk(r.call('GET', '/v1/me', { token: created.token }))).user, 'alice')
    // Only the hash reaches the disk.
    for await (const [key, value] of r.state.store.entries('tokens')) {
      assert.ok(!JSON.stringify(value).includes(created.token))
      assert.ok(!key.includes(created.token))
    }
    const second = await expectOk(r.call('POST', '/v1/tokens', { token: created.token }), 201)
    const list = await expectOk(r.call('GET', '/v1/tokens', { token: second.token }))
    assert.equal(list.tokens.length, 2)
    assert.ok(list.tokens.some((t: any) => t.lastUsedAt !== null), 'last use is listed')
    await expectOk(r.call('DELETE', `/v1/tokens/${created.id}`, { token: second.token }))
    const refused = await r.call('GET', '/v1/me', { token: created.token })
    assert.equal(refused.status, 401)
    assert.equal(refused.body.code, 'ERR_UNAUTHENTICATED')
  } finally { await cleanup() }
})

test('only admins create users, and a user name is taken only once', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    assert.equal((await r.call('POST', '/v1/users', { token: alice, body: { name: 'bob' } })).status, 403)
    assert.equal((await r.call('POST', '/v1/users', { body: { name: 'bob' } })).status, 401)
    const dup = await r.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: { name: 'alice' } })
    assert.equal(dup.status, 409)
    assert.equal(dup.body.code, 'ERR_ALREADY_EXISTS')
  } finally { await cleanup() }
})

test('bad input gets a 4xx with a message naming what was wrong', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const cases: Array<[string, string, any, number, RegExp]> = [
      ['POST', '/v1/users', { body: { name: '../etc' } }, 400, /body\.name/],
      ['POST', '/v1/users', { body: { name: 'a\u0001b' } }, 400, /body\.name/],
      ['POST', '/v1/users', { body: { name: 'Alice' } }, 400, /body\.name/],
      ['POST', '/v1/users', { body: { name: 'ok', admin: 'yes' } }, 400, /body\.admin must be boolean/],
      ['POST', '/v1/users', { body: {} }, 400, /missing the field 'name'/],
      ['POST', '/v1/users', { raw: '{"name":' }, 400, /JSON/],
      ['POST', '/v1/users', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /Media Type/i],
      ['POST', '/v1/groups', { body: { name: 'g', visibility: 'secret' } }, 400, /one of 'public', 'private'/],
      ['GET', '/v1/buckets/acme/a..b', {}, 400, /params\.name/],
      ['GET', '/v1/search?limit=0', {}, 400, /querystring\.limit/],
      ['GET', '/v1/search?updatedSince=yesterday', {}, 400, /updatedSince/],
      ['GET', '/v1/nope', {}, 404, /no route/]
    ]
    for (const [method, url, opts, status, message] of cases) {
      const res = await r.call(method, url, { token: ADMIN_TOKEN, ...opts })
      assert.equal(res.status, status, `${method} ${url} ${JSON.stringify(opts)} → ${JSON.stringify(res.body)}`)
      assert.match(res.body.message, message)
      assert.equal(typeof res.body.code, 'string')
    }
    const big = await r.call('POST', '/v1/users', { token: ADMIN_TOKEN, raw: JSON.stringify({ name: 'x', pad: 'a'.repeat(100_000) }) })
    assert.equal(big.status, 413)
    assert.equal(big.body.code, 'ERR_BODY_TOO_LARGE')
    const badAuth = await r.call('GET', '/v1/me', { headers: { authorization: 'Basic abc' } })
    assert.equal(badAuth.status, 401)
  } finally { await cleanup() }
})

test('group owners manage members; the last owner cannot leave; changes are audited', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'acme', visibility: 'private', description: 'Acme ML' } }), 201)
    const g = await expectOk(r.call('PUT', '/v1/groups/acme/members/bob', { token: alice, body: { role: 'reader' } }))
    assert.deepEqual(g.members, [{ user: 'alice', role: 'owner' }, { user: 'bob', role: 'reader' }])
    const last = await r.call('DELETE', '/v1/groups/acme/members/alice', { token: alice })
    assert.equal(last.status, 409)
    assert.equal(last.body.code, 'ERR_LAST_OWNER')
    assert.equal((await r.call('PUT', '/v1/groups/acme/members/nobody', { token: alice, body: { role: 'reader' } })).status, 404)
    await expectOk(r.call('DELETE', '/v1/groups/acme/members/bob', { token: alice }))
    const audit = await expectOk(r.call('GET', '/v1/audit?group=acme', { token: alice }))
    assert.deepEqual(audit.entries.map((e: any) => e.action), ['group.member.remove', 'group.member.set', 'group.create'])
    assert.equal(audit.entries[0].actor, 'alice')
    assert.equal(audit.entries[0].details.user, 'bob')
    assert.equal((await r.call('GET', '/v1/audit', { token: alice })).status, 403)
  } finally { await cleanup() }
})

test('a bucket inherits its group visibility and may only be stricter', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'priv', visibility: 'private' } }), 201)
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'pub', visibility: 'public' } }), 201)
    assert.equal((await expectOk(r.call('POST', '/v1/groups/pub/buckets', { token: alice, body: { name: 'a' } }), 201)).visibility, 'public')
    assert.equal((await expectOk(r.call('POST', '/v1/groups/pub/buckets', { token: alice, body: { name: 'b', visibility: 'private' } }), 201)).visibility, 'private')
    const loud = await r.call('POST', '/v1/groups/priv/buckets', { token: alice, body: { name: 'c', visibility: 'public' } })
    assert.equal(loud.status, 400)
    assert.match(loud.body.message, /private/)
    assert.equal((await r.call('GET', '/v1/buckets/pub/a')).status, 200, 'anyone reads a public bucket')
    assert.equal((await r.call('GET', '/v1/buckets/pub/b')).status, 404, 'a private bucket in a public group is hidden')
    const patched = await expectOk(r.call('PATCH', '/v1/buckets/pub/a', { token: alice, body: { tags: ['vision'], description: 'images' } }))
    assert.deepEqual(patched.tags, ['vision'])
    assert.equal((await r.call('PATCH', '/v1/buckets/pub/a', { token: alice, body: {} })).status, 400)
  } finally { await cleanup() }
})

test('closing a group hides its public buckets at once; opening it again exposes none of them', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'lab', visibility: 'public' } }), 201)
    await expectOk(r.call('POST', '/v1/groups/lab/buckets', { token: alice, body: { name: 'mnist', description: 'digits' } }), 201)
    await expectOk(r.call('PUT', '/v1/groups/lab/members/bob', { token: alice, body: { role: 'publisher' } }))
    assert.equal((await expectOk(r.call('GET', '/v1/search?q=digits'))).results.length, 1, 'anonymous finds the public bucket')

    assert.equal((await r.call('PATCH', '/v1/groups/lab', { token: bob, body: { visibility: 'private' } })).status, 403, 'a publisher is not an owner')
    assert.equal((await r.call('PATCH', '/v1/groups/lab', { token: alice, body: {} })).status, 400, 'nothing to change')
    assert.equal((await r.call('PATCH', '/v1/groups/lab', { token: alice, body: { visibility: 'secret' } })).status, 400)

    const closed = await expectOk(r.call('PATCH', '/v1/groups/lab', { token: alice, body: { visibility: 'private', description: 'our lab' } }))
    assert.equal(closed.visibility, 'private')
    assert.equal(closed.description, 'our lab')
    assert.equal((await r.call('GET', '/v1/buckets/lab/mnist')).status, 404, 'anonymous no longer sees the bucket')
    assert.deepEqual((await expectOk(r.call('GET', '/v1/search?q=digits'))).results, [], 'nor finds it')
    assert.equal((await expectOk(r.call('GET', '/v1/buckets/lab/mnist', { token: bob }))).visibility, 'private', 'members still read it')
    assert.equal((await r.call('PATCH', '/v1/buckets/lab/mnist', { token: alice, body: { visibility: 'public' } })).status, 400, 'a bucket cannot be more open than its group')

    const opened = await expectOk(r.call('PATCH', '/v1/groups/lab', { token: alice, body: { visibility: 'public' } }))
    assert.equal(opened.visibility, 'public')
    assert.equal((await r.call('GET', '/v1/buckets/lab/mnist')).status, 404, 'opening the group exposes no bucket by itself')
    await expectOk(r.call('PATCH', '/v1/buckets/lab/mnist', { token: alice, body: { visibility: 'public' } }))
    assert.equal((await r.call('GET', '/v1/buckets/lab/mnist')).status, 200)

    const audit = await expectOk(r.call('GET', '/v1/audit?limit=100', { token: ADMIN_TOKEN }))
    const changes = audit.entries.filter((e: any) => e.action === 'group.update')
    assert.equal(changes.length, 2)
    assert.ok(changes.some((e: any) => e.details.visibility === 'private' && e.details.bucketsMadePrivate.includes('mnist')))
  } finally { await cleanup() }
})

test('a provider that stops refreshing its record drops out of the provider list after the provider lifetime', async () => {
  let now = 1_800_000_000_000
  const [r, cleanup] = await startTestRegistry({ now: () => now, providerTtlMs: 60_000 })
  try {
    const alice = await addUser(r, 'alice')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'lab', visibility: 'private' } }), 201)
    await expectOk(r.call('POST', '/v1/groups/lab/buckets', { token: alice, body: { name: 'data' } }), 201)
    const publisherKey = await nodeKey()
    const publisher = await registerNode(r, alice, publisherKey)
    const mirror = await registerNode(r, alice, await nodeKey(), ['/ip4/127.0.0.1/tcp/4002'])
    const rec = await versionRecord(publisherKey, 'lab/data', 1, null)
    await expectOk(r.call('POST', '/v1/buckets/lab/data/versions', { token: alice, body: { record: b64(rec.bytes) } }), 201)
    await expectOk(r.call('PUT', `/v1/buckets/lab/data/providers/${mirror}`, { token: alice, body: { seq: 1 } }))
    assert.equal((await expectOk(r.call('GET', '/v1/registry'))).providerTtlMs, 60_000, 'nodes learn how often to refresh')
    const peers = async (): Promise<string[]> => (await expectOk(r.call('GET', '/v1/buckets/lab/data/providers', { token: alice }))).providers.map((p: any) => p.peer).sort()
    assert.deepEqual(await peers(), [mirror, publisher].sort())

    now += 40_000
    await expectOk(r.call('PUT', `/v1/buckets/lab/data/providers/${mirror}`, { token: alice, body: { seq: 1 } }))
    now += 30_000
    assert.deepEqual(await peers(), [mirror], 'the publisher did not refresh within 60 s; the mirror did')
  } finally { await cleanup() }
})

test('a publisher node appends signed version references; bad, foreign or out-of-order records are refused', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    const mallory = await addUser(r, 'mallory')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'acme', visibility: 'public' } }), 201)
    await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: alice, body: { name: 'data' } }), 201)
    const key = await nodeKey()
    const v1 = await versionRecord(key, 'acme/data', 1, null)
    const unregistered = await r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(v1.bytes) } })
    assert.equal(unregistered.status, 403)
    assert.equal(unregistered.body.code, 'ERR_NODE_NOT_REGISTERED')
    const peer = await registerNode(r, alice, key)

    const ref = await expectOk(r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(v1.bytes) } }), 201)
    assert.equal(ref.cid, v1.cid.toString())
    assert.equal(ref.publisher, peer)
    // A queued reference delivered twice is answered with what was recorded.
    assert.equal((await expectOk(r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(v1.bytes) } }))).cid, v1.cid.toString())

    const tampered = new Uint8Array(v1.bytes)
    tampered[tampered.length - 5] ^= 1
    const bad = await r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(tampered) } })
    assert.equal(bad.status, 400)
    assert.match(bad.body.code, /ERR_BAD_SIGNATURE|ERR_INVALID_VERSION_RECORD/)

    const skip = await versionRecord(key, 'acme/data', 3, v1.cid)
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(skip.bytes) } })).body.code, 'ERR_VERSION_CONFLICT')
    const fork = await versionRecord(key, 'acme/data', 2, (await versionRecord(key, 'acme/data', 1, null, 'other')).cid)
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(fork.bytes) } })).body.code, 'ERR_VERSION_CONFLICT')
    const elsewhere = await versionRecord(key, 'acme/other', 2, v1.cid)
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(elsewhere.bytes) } })).status, 400)
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/versions', { token: mallory, body: { record: b64(v1.bytes) } })).status, 403)

    const v2 = await versionRecord(key, 'acme/data', 2, v1.cid)
    await expectOk(r.call('POST', '/v1/buckets/acme/data/versions', { token: alice, body: { record: b64(v2.bytes) } }), 201)
    const list = await expectOk(r.call('GET', '/v1/buckets/acme/data/versions'))
    assert.deepEqual(list.versions.map((v: any) => v.seq), [1, 2])
    const page = await expectOk(r.call('GET', '/v1/buckets/acme/data/versions?limit=1'))
    assert.equal(page.next, 1)
    const one = await expectOk(r.call('GET', '/v1/buckets/acme/data/versions/2'))
    assert.equal(one.record, b64(v2.bytes))
    assert.equal((await r.call('GET', '/v1/buckets/acme/data/versions/9')).status, 404)
    assert.equal((await expectOk(r.call('GET', '/v1/buckets/acme/data'))).latestSeq, 2)
    const providers = await expectOk(r.call('GET', '/v1/buckets/acme/data/providers'))
    assert.deepEqual(providers.providers.map((p: any) => [p.peer, p.seq, p.addresses]), [[peer, 2, ['/ip4/127.0.0.1/tcp/4001']]])
  } finally { await cleanup() }
})

test('node registration needs a fresh challenge signed by the node key', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    const key = await nodeKey()
    const other = await nodeKey()
    const { peer } = await signNodeProof(new Uint8Array(0), key)
    const { challenge } = await expectOk(r.call('POST', '/v1/nodes/challenge', { token: alice, body: { peer } }))
    const wrong = await signNodeProof(Buffer.from(challenge, 'base64'), other)
    const refused = await r.call('PUT', `/v1/nodes/${peer}`, { token: alice, body: { addresses: [], challenge, signature: b64(wrong.signature) } })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.code, 'ERR_BAD_SIGNATURE')
    const good = await signNodeProof(Buffer.from(challenge, 'base64'), key)
    const reused = await r.call('PUT', `/v1/nodes/${peer}`, { token: alice, body: { addresses: [], challenge, signature: b64(good.signature) } })
    assert.equal(reused.body.code, 'ERR_BAD_CHALLENGE', 'a challenge is single-use')
    const fresh = await expectOk(r.call('POST', '/v1/nodes/challenge', { token: alice, body: { peer } }))
    const proof = await signNodeProof(Buffer.from(fresh.challenge, 'base64'), key)
    const badAddr = await r.call('PUT', `/v1/nodes/${peer}`, { token: alice, body: { addresses: ['/ip4/999.1.1.1/tcp/1'], challenge: fresh.challenge, signature: b64(proof.signature) } })
    assert.equal(badAddr.status, 400)
    assert.match(badAddr.body.message, /multiaddr/)
    await registerNode(r, alice, key, ['/ip4/10.0.0.1/tcp/4001'])
    assert.equal((await expectOk(r.call('GET', '/v1/nodes', { token: alice }))).nodes[0].addresses[0], '/ip4/10.0.0.1/tcp/4001')
  } finally { await cleanup() }
})

test('a reader gets a short-lived read grant that nodes verify offline with the registry key', async () => {
  const now = 1_800_000_000_000
  const [r, cleanup] = await startTestRegistry({ now: () => now, grantTtlMs: 60_000 })
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    const carol = await addUser(r, 'carol')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'acme', visibility: 'private' } }), 201)
    await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: alice, body: { name: 'data' } }), 201)
    await expectOk(r.call('PUT', '/v1/groups/acme/members/bob', { token: alice, body: { role: 'reader' } }))
    const bobNode = await registerNode(r, bob, await nodeKey())
    const carolNode = await registerNode(r, carol, await nodeKey())
    const info = await expectOk(r.call('GET', '/v1/registry'))
    const res = await expectOk(r.call('POST', '/v1/buckets/acme/data/grants', { token: bob, body: { peer: bobNode } }))
    assert.deepEqual(res.rights, ['read'])
    assert.equal(res.expires, now + 60_000)
    const grant = await verifyGrant(Buffer.from(res.grant, 'base64'), publicKeyFromProtobuf(Buffer.from(info.publicKey, 'base64')), now)
    assert.equal(grant.peer, bobNode)
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/grants', { token: bob, body: { peer: carolNode } })).body.code, 'ERR_NODE_NOT_REGISTERED')
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/grants', { token: carol, body: { peer: carolNode } })).status, 404)
    // Revoking bob's read (explicit deny wins over his role) stops new grants at once.
    await expectOk(r.call('POST', '/v1/buckets/acme/data/rules', { token: alice, body: { subject: 'user:bob', right: 'read', effect: 'deny' } }))
    assert.equal((await r.call('POST', '/v1/buckets/acme/data/grants', { token: bob, body: { peer: bobNode } })).status, 404)
  } finally { await cleanup() }
})

test('search finds what the caller may read, ranked, filtered and paginated', async () => {
  let now = 1_800_000_000_000
  const [r, cleanup] = await startTestRegistry({ now: () => now })
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'acme', visibility: 'private' } }), 201)
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'open', visibility: 'public' } }), 201)
    const mk = async (group: string, name: string, description: string, tags: string[] = []): Promise<void> => {
      now += 1000
      await expectOk(r.call('POST', `/v1/groups/${group}/buckets`, { token: alice, body: { name, description, tags } }), 201)
    }
    await mk('acme', 'imagenet-small', 'ImageNet subset', ['vision'])
    await mk('open', 'imagenet-full', 'the full ImageNet', ['vision'])
    await mk('open', 'cats', 'pictures of imagenet cats', ['pets'])
    await mk('open', 'text-corpus', 'web text', ['nlp'])

    const anon = await expectOk(r.call('GET', '/v1/search?q=imagenet'))
    assert.deepEqual(anon.results.map((x: any) => x.bucket), ['open/imagenet-full', 'open/cats'], 'name matches outrank description matches')
    const owner = await expectOk(r.call('GET', '/v1/search?q=imagenet', { token: alice }))
    // Equal scores: the most recently updated first.
    assert.deepEqual(owner.results.map((x: any) => x.bucket), ['open/imagenet-full', 'acme/imagenet-small', 'open/cats'])
    const outsider = await expectOk(r.call('GET', '/v1/search?q=imagenet&group=acme', { token: bob }))
    assert.deepEqual(outsider.results, [])
    assert.deepEqual((await expectOk(r.call('GET', '/v1/search?q=imag&tag=vision', { token: alice }))).results.map((x: any) => x.bucket), ['open/imagenet-full', 'acme/imagenet-small'])
    assert.deepEqual((await expectOk(r.call('GET', '/v1/search?visibility=private', { token: alice }))).results.map((x: any) => x.bucket), ['acme/imagenet-small'])
    const since = new Date(now - 1500).toISOString()
    assert.deepEqual((await expectOk(r.call('GET', `/v1/search?updatedSince=${since}`))).results.map((x: any) => x.bucket), ['open/text-corpus', 'open/cats'])
    const p1 = await expectOk(r.call('GET', '/v1/search?limit=2'))
    assert.equal(p1.results.length, 2)
    assert.equal(p1.next, 2)
    const p2 = await expectOk(r.call('GET', '/v1/search?limit=2&offset=2'))
    assert.deepEqual(p2.results.map((x: any) => x.bucket), ['open/imagenet-full'])
    assert.equal(p2.next, null)
    // A rule for bob on the private bucket lets him find it.
    await expectOk(r.call('POST', '/v1/buckets/acme/imagenet-small/rules', { token: alice, body: { subject: 'user:bob', right: 'read', effect: 'allow' } }))
    assert.deepEqual((await expectOk(r.call('GET', '/v1/search?q=small', { token: bob }))).results.map((x: any) => x.bucket), ['acme/imagenet-small'])
  } finally { await cleanup() }
})

test('search still fills a page when the best-ranked matches are denied to the caller', async () => {
  let now = 1_800_000_000_000
  const [r, cleanup] = await startTestRegistry({ now: () => now })
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'open', visibility: 'public' } }), 201)
    for (let i = 0; i < 40; i++) {
      now += 1000
      await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: alice, body: { name: `data-${i}` } }), 201)
    }
    // The 30 newest (best-ranked on ties) are denied to bob.
    for (let i = 10; i < 40; i++) {
      await expectOk(r.call('POST', `/v1/buckets/open/data-${i}/rules`, { token: alice, body: { subject: 'user:bob', right: 'read', effect: 'deny' } }))
    }
    const page = await expectOk(r.call('GET', '/v1/search?q=data&limit=5', { token: bob }))
    assert.deepEqual(page.results.map((x: any) => x.name), ['data-9', 'data-8', 'data-7', 'data-6', 'data-5'])
    assert.equal(page.next, 5)
    const last = await expectOk(r.call('GET', '/v1/search?q=data&limit=5&offset=5', { token: bob }))
    assert.deepEqual(last.results.map((x: any) => x.name), ['data-4', 'data-3', 'data-2', 'data-1', 'data-0'])
    assert.equal(last.next, null)
  } finally { await cleanup() }
})

test('state, ACL rules and the signing key survive a restart', async () => {
  const [r, cleanup] = await startTestRegistry()
  const dir = r.dir
  let r2
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'acme', visibility: 'private' } }), 201)
    await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: alice, body: { name: 'data', tags: ['x'] } }), 201)
    await expectOk(r.call('POST', '/v1/buckets/acme/data/rules', { token: alice, body: { subject: 'user:bob', right: 'read', effect: 'allow' } }))
    const key = (await expectOk(r.call('GET', '/v1/registry'))).publicKey
    await r.app.close()
    const [again, cleanup2] = await startTestRegistry({}, dir)
    r2 = cleanup2
    assert.equal((await expectOk(again.call('GET', '/v1/registry'))).publicKey, key)
    assert.equal((await expectOk(again.call('GET', '/v1/buckets/acme/data', { token: bob }))).bucket, 'acme/data')
    assert.equal((await expectOk(again.call('GET', '/v1/search?tag=x', { token: bob }))).results.length, 1)
    assert.deepEqual((await expectOk(again.call('GET', '/v1/groups/acme', { token: alice }))).members, [{ user: 'alice', role: 'owner' }])
  } finally {
    await r2?.()
    await cleanup().catch(() => {})
  }
})

test('login attempts are rate-limited per client', async () => {
  const [r, cleanup] = await startTestRegistry({ rateLimit: { max: 1000, loginMax: 3 } })
  try {
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await r.call('POST', '/v1/login', { token: `wrong-token-${i}` })).status)
    assert.deepEqual(statuses, [401, 401, 401, 429, 429])
    const limited = await r.call('POST', '/v1/login', { token: ADMIN_TOKEN })
    assert.equal(limited.body.code, 'ERR_RATE_LIMITED')
  } finally { await cleanup() }
})

test('the OpenAPI document at /docs lists every route with its schemas, and /metrics counts requests', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const doc = await expectOk(r.call('GET', '/docs'))
    assert.equal(doc.openapi, '3.1.0')
    for (const path of ['/v1/search', '/v1/buckets/{group}/{name}/versions', '/v1/nodes/{peer}', '/v1/buckets/{group}/{name}/grants']) {
      assert.ok(doc.paths[path] !== undefined, path)
    }
    const body = doc.paths['/v1/groups'].post.requestBody.content['application/json'].schema
    assert.deepEqual(body.properties.visibility.enum, ['public', 'private'])
    await r.call('GET', '/v1/search')
    const metrics = await r.app.inject({ method: 'GET', url: '/metrics' })
    assert.match(metrics.body, /rok_registry_http_requests_total\{method="GET",route="\/v1\/search",status="200"\} 1/)
    assert.match(metrics.body, /rok_registry_users 1/)
  } finally { await cleanup() }
})
