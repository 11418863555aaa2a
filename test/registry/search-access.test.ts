/**
 * Search keeps per-caller read checks, sorted lists and each bucket's JSON between
 * requests; these tests prove that every change of who may read what shows in the very
 * next search, and that the answer is exactly what the response schema describes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addUser, expectOk, startTestRegistry, type TestRegistry } from './helpers.ts'

async function found (r: TestRegistry, query: string, token?: string): Promise<string[]> {
  return (await expectOk(r.call('GET', `/v1/search?${query}`, { token }))).results.map((x: any) => x.bucket)
}

/** Runs `fn` on a fresh registry with users alice and bob, alice owning `group`. */
async function aliceOwning (group: { name: string, visibility: 'public' | 'private' }, fn: (r: TestRegistry, alice: string, bob: string) => Promise<void>): Promise<void> {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    const bob = await addUser(r, 'bob')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: group }), 201)
    await fn(r, alice, bob)
  } finally { await cleanup() }
}

test('a member removed from a group stops finding its private buckets in the very next search', async () => await aliceOwning({ name: 'acme', visibility: 'private' }, async (r, alice, bob) => {
  await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: alice, body: { name: 'secret-weights', tags: ['llm'] } }), 201)
  assert.deepEqual(await found(r, 'q=secret', bob), [])
  await expectOk(r.call('PUT', '/v1/groups/acme/members/bob', { token: alice, body: { role: 'reader' } }))
  // Searched several ways, so whatever search keeps per caller is warm.
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await found(r, 'q=secret', bob), ['acme/secret-weights'])
    assert.deepEqual(await found(r, 'tag=llm', bob), ['acme/secret-weights'])
    assert.deepEqual(await found(r, 'q=weights&group=acme', bob), ['acme/secret-weights'])
  }
  await expectOk(r.call('DELETE', '/v1/groups/acme/members/bob', { token: alice }))
  assert.deepEqual(await found(r, 'q=secret', bob), [])
  assert.deepEqual(await found(r, 'tag=llm', bob), [])
  assert.deepEqual(await found(r, 'q=weights&group=acme', bob), [])
  assert.deepEqual(await found(r, 'q=secret', alice), ['acme/secret-weights'], 'the owner still finds it')
}))

test('a deny rule hides a bucket from the next search, and removing it shows the bucket again', async () => await aliceOwning({ name: 'open', visibility: 'public' }, async (r, alice, bob) => {
  // both match 'cats' equally and may be created in the same millisecond: their order is a tie, not what this test is about
  await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: alice, body: { name: 'cats' } }), 201)
  await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: alice, body: { name: 'cats-small' } }), 201)
  assert.deepEqual((await found(r, 'q=cats', bob)).sort(), ['open/cats', 'open/cats-small'])
  const rule = { subject: 'user:bob', right: 'read', effect: 'deny' }
  await expectOk(r.call('POST', '/v1/buckets/open/cats/rules', { token: alice, body: rule }))
  assert.deepEqual(await found(r, 'q=cats', bob), ['open/cats-small'])
  assert.deepEqual((await found(r, 'q=cats')).sort(), ['open/cats', 'open/cats-small'], 'others still find it')
  await expectOk(r.call('DELETE', '/v1/buckets/open/cats/rules', { token: alice, body: rule }))
  assert.deepEqual((await found(r, 'q=cats', bob)).sort(), ['open/cats', 'open/cats-small'])
}))

test('an allow rule shows an outsider that one private bucket, not the other buckets of its group, until the rule goes', async () => await aliceOwning({ name: 'lab', visibility: 'private' }, async (r, alice, bob) => {
  for (const name of ['maps-a', 'maps-b']) await expectOk(r.call('POST', '/v1/groups/lab/buckets', { token: alice, body: { name, tags: ['geo'] } }), 201)
  assert.deepEqual(await found(r, 'q=maps', bob), [])
  const rule = { subject: 'user:bob', right: 'read', effect: 'allow' }
  await expectOk(r.call('POST', '/v1/buckets/lab/maps-b/rules', { token: alice, body: rule }))
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await found(r, 'q=maps', bob), ['lab/maps-b'])
    assert.deepEqual(await found(r, 'tag=geo', bob), ['lab/maps-b'])
    assert.deepEqual(await found(r, 'group=lab', bob), ['lab/maps-b'])
  }
  assert.deepEqual((await found(r, 'q=maps', alice)).sort(), ['lab/maps-a', 'lab/maps-b'], 'the owner finds both')
  await expectOk(r.call('DELETE', '/v1/buckets/lab/maps-b/rules', { token: alice, body: rule }))
  assert.deepEqual(await found(r, 'q=maps', bob), [])
  await expectOk(r.call('POST', '/v1/buckets/lab/maps-b/rules', { token: alice, body: rule }))
  assert.deepEqual(await found(r, 'q=maps', bob), ['lab/maps-b'])
}))

test('a revoked token is refused on its next search, however often it was used before', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    await addUser(r, 'alice')
    const extra = await expectOk(r.call('POST', '/v1/tokens', { token: await addUser(r, 'bob') }), 201)
    for (let i = 0; i < 5; i++) assert.deepEqual(await found(r, 'q=anything', extra.token), [])
    await expectOk(r.call('DELETE', `/v1/tokens/${extra.id}`, { token: extra.token }))
    const refused = await r.call('GET', '/v1/search?q=anything', { token: extra.token })
    assert.equal(refused.status, 401)
    assert.equal(refused.body.code, 'ERR_UNAUTHENTICATED')
  } finally { await cleanup() }
})

test('a search hit is the bucket as GET shows it plus its score, special characters and all', async () => {
  const [r, cleanup] = await startTestRegistry()
  try {
    const alice = await addUser(r, 'alice')
    await expectOk(r.call('POST', '/v1/groups', { token: alice, body: { name: 'open', visibility: 'public' } }), 201)
    const description = 'say "hi" \\ back — 画像 \u2028 done'
    await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: alice, body: { name: 'quotes', description, tags: ['a', 'b'] } }), 201)
    const bucket = await expectOk(r.call('GET', '/v1/buckets/open/quotes'))
    const res = await r.app.inject({ method: 'GET', url: '/v1/search?q=quotes' })
    assert.match(String(res.headers['content-type']), /^application\/json/)
    const body = res.json()
    assert.deepEqual(body, { results: [{ ...bucket, score: 8 }], next: null })
    assert.equal(body.results[0].description, description)
    // A later change to the bucket shows in the next search, not the JSON made before it.
    await expectOk(r.call('PATCH', '/v1/buckets/open/quotes', { token: alice, body: { description: 'plain' } }))
    assert.equal((await expectOk(r.call('GET', '/v1/search?q=quotes'))).results[0].description, 'plain')
  } finally { await cleanup() }
})
