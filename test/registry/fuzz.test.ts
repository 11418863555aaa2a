/**
 * Property-based fuzzing: for every endpoint, 1,000 generated requests — odd path
 * segments, wrong types, unknown fields, broken JSON, wrong content types, oversized
 * bodies, with and without (valid, foreign or garbage) tokens. None may answer 5xx, and
 * none that is rejected may change registry state.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ADMIN_TOKEN, addUser, expectOk, nodeKey, registerNode, startTestRegistry, type TestRegistry } from './helpers.ts'

const RUNS = 1000

const ENDPOINTS: Array<[string, string]> = [
  ['GET', '/v1/registry'],
  ['POST', '/v1/login'],
  ['GET', '/v1/me'],
  ['POST', '/v1/users'],
  ['GET', '/v1/tokens'],
  ['POST', '/v1/tokens'],
  ['DELETE', '/v1/tokens/:id'],
  ['POST', '/v1/groups'],
  ['GET', '/v1/groups/:group'],
  ['PATCH', '/v1/groups/:group'],
  ['PUT', '/v1/groups/:group/members/:user'],
  ['DELETE', '/v1/groups/:group/members/:user'],
  ['POST', '/v1/groups/:group/buckets'],
  ['GET', '/v1/buckets/:group/:name'],
  ['PATCH', '/v1/buckets/:group/:name'],
  ['GET', '/v1/buckets/:group/:name/rules'],
  ['POST', '/v1/buckets/:group/:name/rules'],
  ['DELETE', '/v1/buckets/:group/:name/rules'],
  ['POST', '/v1/buckets/:group/:name/versions'],
  ['GET', '/v1/buckets/:group/:name/versions'],
  ['GET', '/v1/buckets/:group/:name/versions/:seq'],
  ['POST', '/v1/nodes/challenge'],
  ['PUT', '/v1/nodes/:peer'],
  ['GET', '/v1/nodes'],
  ['GET', '/v1/buckets/:group/:name/providers'],
  ['PUT', '/v1/buckets/:group/:name/providers/:peer'],
  ['POST', '/v1/buckets/:group/:name/grants'],
  ['GET', '/v1/search'],
  ['GET', '/v1/audit'],
  ['GET', '/docs'],
  ['GET', '/metrics'],
  ['GET', '/healthz']
]

const FIELD_NAMES = ['name', 'admin', 'visibility', 'description', 'tags', 'role', 'subject', 'right', 'effect', 'record', 'peer', 'addresses', 'challenge', 'signature', 'seq', '__proto__', 'constructor']

const weird = fc.constantFrom('..', '.', '%2e%2e', '%2F', 'a%2Fb', '%00', 'a b', 'ACME', '-x', 'é', '💥', 'a'.repeat(65), '', ' ', '%', '?', '#', '\\', 'null', '0', '-1', '1e3', 'true')

function segment (known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: weird },
    { weight: 2, arbitrary: fc.string({ maxLength: 80 }).map(s => encodeURIComponent(s)) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/) }
  )
}

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom(...FIELD_NAMES), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('public', 'private', 'owner', 'reader', 'read', 'deny', 'user:owner', 'group:acme', 'AAAA', 'acme', '../x')), { maxKeys: 5 })
)

interface Generated { path: string, query: string, auth: string | undefined, body: string | undefined, contentType: string | undefined }

function requests (template: string, known: Record<string, string[]>, tokens: string[]): fc.Arbitrary<Generated> {
  const params = template.split('/').map(part => part.startsWith(':') ? segment(known[part.slice(1)] ?? ['x']) : fc.constant(part))
  return fc.record({
    path: fc.tuple(...params).map(parts => parts.join('/')),
    query: fc.oneof(
      fc.constant(''),
      fc.dictionary(fc.constantFrom('q', 'group', 'tag', 'visibility', 'updatedSince', 'limit', 'offset', 'after', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), weird), { maxKeys: 4 })
        .map(d => '?' + new URLSearchParams(d as Record<string, string>).toString())
    ),
    auth: fc.oneof(fc.constant(undefined), fc.constantFrom(...tokens).map(t => `Bearer ${t}`), fc.string({ maxLength: 40 }), fc.constant('Bearer '), fc.constant('Bearer rok_unknown-token-value')),
    body: fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 5, arbitrary: jsonish.map(v => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
      { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 80_000 }).map(n => JSON.stringify({ name: 'x', description: 'a'.repeat(n) })) }
    ),
    contentType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data') })
  })
}

async function fixtures (r: TestRegistry): Promise<{ tokens: string[], known: Record<string, string[]> }> {
  const owner = await addUser(r, 'owner')
  const outsider = await addUser(r, 'outsider')
  await expectOk(r.call('POST', '/v1/groups', { token: owner, body: { name: 'acme', visibility: 'private' } }), 201)
  await expectOk(r.call('POST', '/v1/groups', { token: owner, body: { name: 'open', visibility: 'public' } }), 201)
  await expectOk(r.call('POST', '/v1/groups/acme/buckets', { token: owner, body: { name: 'secret' } }), 201)
  await expectOk(r.call('POST', '/v1/groups/open/buckets', { token: owner, body: { name: 'shared' } }), 201)
  const peer = await registerNode(r, owner, await nodeKey())
  const tokenId = (await expectOk(r.call('GET', '/v1/tokens', { token: outsider }))).tokens[0].id
  return {
    tokens: [ADMIN_TOKEN, owner, outsider],
    known: {
      group: ['acme', 'open', 'nogroup'],
      name: ['secret', 'shared', 'missing'],
      user: ['owner', 'outsider', 'nobody', 'admin'],
      peer: [peer, '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'],
      seq: ['1', '0', '-1', '99999999999999999999', '1.5'],
      id: [tokenId, '0000000000000000', 'zz']
    }
  }
}

for (const [method, template] of ENDPOINTS) {
  test(`fuzz ${method} ${template}: ${RUNS} generated requests, no 5xx, rejected ones change nothing`, async () => {
    const [r, cleanup] = await startTestRegistry()
    try {
      const { tokens, known } = await fixtures(r)
      let rejected = 0
      const statuses = new Set<number>()
      await fc.assert(fc.asyncProperty(requests(template, known, tokens), async (req) => {
        const before = r.state.store.mutations
        const headers: Record<string, string> = {}
        if (req.auth !== undefined) headers.authorization = req.auth
        if (req.contentType !== undefined && req.body !== undefined) headers['content-type'] = req.contentType
        const res = await r.app.inject({ method: method as any, url: req.path + req.query, headers, payload: req.body })
        statuses.add(res.statusCode)
        assert.ok(res.statusCode < 500, `${method} ${req.path}${req.query} → ${res.statusCode} ${res.body.slice(0, 300)}`)
        if (res.statusCode >= 400) {
          rejected++
          assert.equal(r.state.store.mutations, before, `rejected ${method} ${req.path} (${res.statusCode}) changed state`)
          const body = res.json()
          assert.equal(typeof body.code, 'string')
          assert.ok(body.message.length > 0)
        }
      }), { numRuns: RUNS })
      assert.ok(rejected > 0)
      // The generator must get past authentication, not only be turned away at the door.
      assert.ok([...statuses].some(s => s !== 401), `only 401s: ${[...statuses].join(',')}`)
    } finally { await cleanup() }
  })
}
