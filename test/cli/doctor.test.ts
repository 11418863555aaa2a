/**
 * `rok doctor` against real processes: a registry and two node daemons on loopback. Each
 * problem a user can hit is made for real — a missing home, a node never started, a node
 * killed with kill -9, an unreachable publisher, a registry that is down, a revoked token —
 * and the doctor must name it, say how to fix it and exit 1; a healthy node exits 0.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../fixtures/seeded.ts'
import { runRok } from '../fixtures/cli.ts'
import { waitFor } from '../sync/daemons.ts'
import { startCluster, type TestCluster } from './cluster.ts'
import { startS3Server } from '../fixtures/s3-server.ts'
import type { DoctorReport } from '../../bin/rok/commands/doctor.ts'

async function doctor (home: string, env: Record<string, string> = {}): Promise<{ code: number | null, report: DoctorReport, human: string }> {
  const json = await runRok(['doctor', '--home', home, '--json'], env)
  const human = await runRok(['doctor', '--home', home], env)
  assert.equal(human.code, json.code, 'the same exit code with and without --json')
  return { code: json.code, report: JSON.parse(json.stdout) as DoctorReport, human: human.stdout }
}

const failed = (r: DoctorReport, name: string): string[] => r.checks.filter(c => c.name === name && c.state === 'fail').map(c => `${c.message} | fix: ${c.fix ?? ''}`)

describe('rok doctor', { timeout: 300_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let cluster: TestCluster

  before(async () => {
    [dir, cleanup] = await tempDir('rok-doctor-')
    cluster = await startCluster(dir, ['alice', 'bob', 'carol', 'dave'])
  })

  after(async () => {
    await cluster?.run.stopAll()
    await cleanup()
  })

  it('a missing home: says so and how to create it', async () => {
    const r = await doctor(join(dir, 'nowhere'))
    assert.equal(r.code, 1)
    assert.match(failed(r.report, 'home')[0], /no Rok home at .*nowhere.*fix: create it with 'rok init --home/)
    assert.match(r.human, /^FAIL {2}home/m)
    assert.match(r.human, /1 problem found/)
  })

  it('a home whose node was never started: the daemon check fails with the command to start it; the registry is checked anyway', async () => {
    const r = await doctor(cluster.homes.carol)
    assert.equal(r.code, 1)
    assert.deepEqual(r.report.checks.map(c => [c.name, c.state]), [['home', 'ok'], ['key', 'ok'], ['daemon', 'fail'], ['registry', 'ok'], ['peers', 'skip'], ['tier', 'skip']])
    assert.match(failed(r.report, 'daemon')[0], /not running .*fix: start it with 'rok node start --home /)
  })

  it('a healthy publisher and subscriber: every check passes, the publisher answers a ping through the daemon', async () => {
    await cluster.as('alice')('group', 'create', 'lab')
    await cluster.as('alice')('bucket', 'create', 'lab/data')
    await cluster.as('alice')('group', 'add', 'lab', 'bob')
    const a = await cluster.startNode('alice')
    const b = await cluster.startNode('bob')
    for (const n of [a, b]) await waitFor('registration', async () => (await n.api.syncStatus()).registry?.registered === true ? true : undefined)
    await mkdir(join(dir, 'src'))
    await writeFile(join(dir, 'src', 'f.txt'), 'hello')
    await cluster.as('alice')('publish', join(dir, 'src'), '--bucket', 'lab/data')
    await cluster.as('bob')('subscribe', 'lab/data')
    await waitFor('B at @1', async () => (await b.api.syncStatus()).subscriptions[0]?.localHead === 1 ? true : undefined)

    const r = await doctor(cluster.homes.bob)
    assert.equal(r.code, 0, r.human)
    assert.ok(r.report.ok)
    const peers = r.report.checks.filter(c => c.name === 'peers')
    assert.equal(peers.length, 1)
    assert.equal(peers[0].state, 'ok')
    assert.match(peers[0].message, new RegExp(`${a.peerId} \\(publisher of lab/data\\) answers in \\d+ ms`))
    assert.match(r.human, /no problems found/)
    assert.equal((await doctor(cluster.homes.alice)).code, 0)

    // the publisher stops: the subscriber's doctor names it as unreachable
    await a.stop()
    const down = await doctor(cluster.homes.bob)
    assert.equal(down.code, 1)
    assert.match(failed(down.report, 'peers')[0], new RegExp(`${a.peerId} \\(publisher of lab/data\\) is unreachable at /ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}: .*fix: .*publisher runs`))

    // a node killed with kill -9 leaves its node.json behind
    await b.kill()
    const killed = await doctor(cluster.homes.bob)
    assert.equal(killed.code, 1)
    assert.match(failed(killed.report, 'daemon')[0], /node\.json is left from process \d+, which has exited .*fix: start it with 'rok node start/)
  })

  it('the object-storage tier: reachable with the keys in the environment; wrong keys and a stopped store are named with their fix', async () => {
    const s3 = await startS3Server({ buckets: ['rok-doctor'] })
    try {
      const set = await runRok(['tier', 'set', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--prefix', 'dave', '--path-style', '--home', cluster.homes.dave], s3.env)
      assert.equal(set.code, 0, set.stderr)
      const good = await doctor(cluster.homes.dave, s3.env)
      assert.deepEqual(good.report.checks.find(c => c.name === 'tier'), { name: 'tier', state: 'ok', message: `s3://rok-doctor/dave at ${s3.endpoint} (us-east-1, path-style): reachable, credentials accepted` })

      // s3rver knows one key ID (it does not check signatures): another ID is refused
      const wrongKeys = await doctor(cluster.homes.dave, { ...s3.env, AWS_ACCESS_KEY_ID: 'SOMEONE-ELSE' })
      assert.equal(wrongKeys.code, 1)
      assert.match(failed(wrongKeys.report, 'tier')[0], /refused the credentials .*\[ERR_TIER_ACCESS_DENIED\] \| fix: .*AWS_ACCESS_KEY_ID/)

      await s3.kill()
      const down = await doctor(cluster.homes.dave, s3.env)
      assert.equal(down.code, 1)
      assert.match(failed(down.report, 'tier')[0], /\[ERR_TIER_UNREACHABLE\] \| fix: start the object store/)
    } finally {
      await s3.stop()
    }
  })

  it('a registry that signs with another key than the pinned one: named, with what to check', async () => {
    const { generateKeyPair, publicKeyToProtobuf } = await import('@libp2p/crypto/keys')
    const other = await generateKeyPair('Ed25519')
    await writeFile(join(cluster.homes.dave, 'registry-key.json'), JSON.stringify({ url: cluster.registry.url, publicKey: Buffer.from(publicKeyToProtobuf(other.publicKey)).toString('base64') }))
    try {
      const r = await doctor(cluster.homes.dave)
      assert.equal(r.code, 1)
      assert.match(failed(r.report, 'registry')[0], /signs with another key than the one pinned in registry-key\.json.*fix: if the registry was replaced on purpose, remove registry-key\.json/)
    } finally {
      await rm(join(cluster.homes.dave, 'registry-key.json'))
    }
  })

  it('a revoked token: the registry check says who was refused and how to log in again', async () => {
    const tokens = await cluster.as('carol')('user', 'tokens')
    await cluster.as('carol')('user', 'revoke-token', tokens[0].id)
    const r = await doctor(cluster.homes.carol)
    assert.equal(r.code, 1)
    assert.match(failed(r.report, 'registry')[0], /refuses the saved token of user carol .*fix: .*rok login http:\/\/127\.0\.0\.1:\d+ --token T/)
  })

  it('the registry is down: the registry check fails, says what still works, and says how to fix it', async () => {
    await cluster.registry.stop()
    const r = await doctor(cluster.homes.alice)
    assert.equal(r.code, 1)
    assert.match(failed(r.report, 'registry')[0], /http:\/\/127\.0\.0\.1:\d+ is unreachable \| fix: start the registry .*syncing, serving and restoring go on/)
    assert.match(r.human, /^FAIL {2}registry/m)
    assert.match(r.human, /^ {15}fix: start the registry/m)
  })
})
