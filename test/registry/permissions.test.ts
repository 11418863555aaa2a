/**
 * The permission matrix: the status of every (role × resource × action). Reading it row by
 * row is the spec: a thing you may not read is a 404 exactly like a missing thing; a thing
 * you may read but not change is a 403; anonymous callers get 401 where a token would help.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PrivateKey } from '@libp2p/interface'
import { CID } from '../../protocol/cid.ts'
import { ADMIN_TOKEN, addUser, b64, expectOk, nodeKey, registerNode, startTestRegistry, versionRecord, type TestRegistry } from './helpers.ts'

const ACTIONS = ['bucket.show', 'versions.list', 'providers.list', 'bucket.update', 'rules.list', 'rules.add', 'bucket.create', 'grant', 'version.append', 'group.show', 'member.set', 'group.update'] as const

const OWNER_ROW = '200 200 200 200 200 200 201 200 201 200 200 200'
const OUTSIDER_PUBLIC = '200 200 200 403 403 403 403 200 403 200 403 403'
const OUTSIDER_HIDDEN = '404 404 404 404 404 404 403 404 404 200 403 403'

/** resource → role → expected statuses, in ACTIONS order */
const MATRIX: Record<string, Record<string, string>> = {
  // a bucket in a private group
  'acme/secret': {
    admin: OWNER_ROW,
    owner: OWNER_ROW,
    publisher: '200 200 200 200 403 403 201 200 201 200 403 403',
    reader: '200 200 200 403 403 403 403 200 403 200 403 403',
    ruled: '200 200 200 403 403 403 404 200 403 404 404 404',
    partner: '200 200 200 403 403 403 404 200 403 404 404 404',
    denied: '404 404 404 404 404 404 403 404 404 200 403 403',
    outsider: '404 404 404 404 404 404 404 404 404 404 404 404',
    anonymous: '404 404 404 404 404 404 404 404 404 404 404 404'
  },
  // a public bucket in a public group
  'open/shared': {
    admin: OWNER_ROW,
    owner: OWNER_ROW,
    publisher: OUTSIDER_PUBLIC,
    reader: OUTSIDER_PUBLIC,
    ruled: OUTSIDER_PUBLIC,
    partner: OUTSIDER_PUBLIC,
    denied: OUTSIDER_PUBLIC,
    outsider: OUTSIDER_PUBLIC,
    anonymous: '200 200 200 401 401 401 401 401 401 200 401 401'
  },
  // a private bucket in a public group
  'open/hidden': {
    admin: OWNER_ROW,
    owner: OWNER_ROW,
    publisher: OUTSIDER_HIDDEN,
    reader: OUTSIDER_HIDDEN,
    ruled: OUTSIDER_HIDDEN,
    partner: OUTSIDER_HIDDEN,
    denied: OUTSIDER_HIDDEN,
    outsider: OUTSIDER_HIDDEN,
    anonymous: '404 404 404 404 404 404 401 404 404 200 401 401'
  }
}

interface Actor { token?: string, key?: PrivateKey, peer?: string }

async function setup (r: TestRegistry): Promise<Record<string, Actor>> {
  const actors: Record<string, Actor> = { admin: { token: ADMIN_TOKEN }, anonymous: {} }
  for (const name of ['owner', 'publisher', 'reader', 'ruled', 'partner', 'denied', 'outsider', 'zed']) actors[name] = { token: await addUser(r, name) }
  for (const a of Object.values(actors)) {
    if (a.token === undefined) continue
    a.key = await nodeKey()
    a.peer = await registerNode(r, a.token, a.key)
  }
  const owner = actors.owner.token!
  await expectOk(r.call('POST', '/v1/groups', { token: owner, body: { name: 'acme', visibility: 'private' } }), 201)
  await expectOk(r.call('POST', '/v1/groups', { token: owner, body: { name: 'open', visibility: 'public' } }), 201)
  await expectOk(r.call('POST', '/v1/groups', { token: actors.partner.token!, body: { name: 'partners', visibility: 'private' } }), 201)
  for (const [user, role] of [['publisher', 'publisher'], ['reader', 'reader'], ['denied', 'reader']]) {
    await expectOk(r.call('PUT', `/v1/groups/acme/members/${user}`, { token: owner, body: { role } }))
  }
  await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: owner, body: { name: 'secret' } }), 201)
  await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: owner, body: { name: 'shared' } }), 201)
  await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: owner, body: { name: 'hidden', visibility: 'private' } }), 201)
  for (const rule of [
    { subject: 'user:ruled', right: 'read', effect: 'allow' },
    { subject: 'group:partners', right: 'read', effect: 'allow' },
    { subject: 'user:denied', right: 'read', effect: 'deny' }
  ]) await expectOk(r.call('POST', '/v1/buckets/acme/secret/rules', { token: owner, body: rule }))
  return actors
}

async function act (r: TestRegistry, action: typeof ACTIONS[number], who: string, a: Actor, bucket: string): Promise<number> {
  const [group, name] = bucket.split('/')
  const token = a.token
  const base = `/v1/buckets/${bucket}`
  switch (action) {
    case 'bucket.show': return (await r.call('GET', base, { token })).status
    case 'versions.list': return (await r.call('GET', `${base}/versions`, { token })).status
    case 'providers.list': return (await r.call('GET', `${base}/providers`, { token })).status
    case 'bucket.update': return (await r.call('PATCH', base, { token, body: { description: `edited by ${who}` } })).status
    case 'rules.list': return (await r.call('GET', `${base}/rules`, { token })).status
    case 'rules.add': return (await r.call('POST', `${base}/rules`, { token, body: { subject: 'user:zed', right: 'read', effect: 'allow' } })).status
    case 'bucket.create': return (await r.call('POST', `/v1/groups/${group}/buckets`, { token, body: { name: `${name}-by-${who}` } })).status
    case 'grant': return (await r.call('POST', `${base}/grants`, { token, body: { peer: a.peer ?? '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' } })).status
    case 'version.append': {
      const key = a.key ?? await nodeKey()
      const latest = r.state.buckets.get(bucket)!
      const rec = await versionRecord(key, bucket, latest.latestSeq + 1, latest.latestCid === null ? null : CID.parse(latest.latestCid))
      return (await r.call('POST', `${base}/versions`, { token, body: { record: b64(rec.bytes) } })).status
    }
    case 'group.show': return (await r.call('GET', `/v1/groups/${group}`, { token })).status
    case 'member.set': return (await r.call('PUT', `/v1/groups/${group}/members/zed`, { token, body: { role: 'reader' } })).status
    case 'group.update': return (await r.call('PATCH', `/v1/groups/${group}`, { token, body: { description: `edited by ${who}` } })).status
  }
}

test('permission matrix: every role × resource × action answers the expected status', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const actors = await setup(r)
    const mismatches: string[] = []
    for (const [bucket, rows] of Object.entries(MATRIX)) {
      for (const [role, expected] of Object.entries(rows)) {
        const want = expected.split(' ').map(Number)
        for (let i = 0; i < ACTIONS.length; i++) {
          const got = await act(r, ACTIONS[i], role, actors[role], bucket)
          if (got !== want[i]) mismatches.push(`${role} ${ACTIONS[i]} ${bucket}: expected ${want[i]}, got ${got}`)
        }
      }
    }
    assert.deepEqual(mismatches, [])
  } finally { await cleanup() }
})

test('a non-member probing a private bucket by exact name gets the same answer as for a missing bucket', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const actors = await setup(r)
    for (const suffix of ['', '/versions', '/versions/1', '/providers', '/rules']) {
      const real = await r.call('GET', `/v1/buckets/acme/secret${suffix}`, { token: actors.outsider.token })
      const missing = await r.call('GET', `/v1/buckets/acme/nothing${suffix}`, { token: actors.outsider.token })
      assert.equal(real.status, 404)
      assert.equal(missing.status, 404)
      assert.equal(real.body.code, missing.body.code)
      assert.equal(real.body.message.replace('secret', 'X'), missing.body.message.replace('nothing', 'X'))
    }
    const group = await r.call('GET', '/v1/groups/acme', { token: actors.outsider.token })
    const noGroup = await r.call('GET', '/v1/groups/nogroup', { token: actors.outsider.token })
    assert.equal(group.status, noGroup.status)
    const found = await expectOk(r.call('GET', '/v1/search?q=secret', { token: actors.outsider.token }))
    assert.deepEqual(found.results, [])
  } finally { await cleanup() }
})
