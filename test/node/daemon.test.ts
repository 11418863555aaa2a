import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rokJson, runRok, spawnRok, collect } from '../fixtures/cli.ts'
import { tempDir } from '../fixtures/seeded.ts'

async function waitFor<T> (probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error('timed out waiting')
}

test('with a node running, the CLI works through its API; the API checks tokens and input; stopping it hands the home back', { timeout: 120_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  await rokJson(['init', ...h])
  const daemon = spawnRok(['node', 'start', ...h])
  const exited = collect(daemon)
  try {
    const info = await waitFor(async () => JSON.parse(await readFile(join(home, 'node.json'), 'utf8')) as { api: string, peerId: string })
    const token = (await readFile(join(home, 'api-token'), 'utf8')).trim()

    const id = await rokJson(['id', ...h])
    assert.equal(id.running, true)
    assert.equal(id.peerId, info.peerId)
    assert.match(id.addrs[0], /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)

    await mkdir(join(dir, 'data'))
    await writeFile(join(dir, 'data', 'x.txt'), 'through the daemon')
    const snap = await rokJson(['snapshot', join(dir, 'data'), '--bucket', 'd/api', ...h])
    assert.equal(snap.seq, 1)
    await rokJson(['restore', 'd/api@1', join(dir, 'out'), ...h])
    assert.equal(await readFile(join(dir, 'out', 'x.txt'), 'utf8'), 'through the daemon')
    assert.equal((await rokJson(['verify', ...h])).ok, true)
    assert.deepEqual((await rokJson(['verify', '--repair', ...h])).repaired, { unindexed: 0, versions: [] }, 'repair through the daemon: nothing to do')
    const both = await runRok(['verify', '--repair', '--tier', ...h])
    assert.equal(both.code, 2)
    assert.match(both.stderr, /--repair applies to the local store/)
    const missing = await runRok(['log', 'd/none', ...h])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no versions here/)

    const noToken = await fetch(`${info.api}/v1/stats`)
    assert.equal(noToken.status, 401)
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const relative = await fetch(`${info.api}/v1/snapshots`, { method: 'POST', headers: auth, body: JSON.stringify({ path: 'relative/path', bucket: 'd/api' }) })
    assert.equal(relative.status, 400)
    assert.match((await relative.json() as { message: string }).message, /path/)
    const badJson = await fetch(`${info.api}/v1/gc`, { method: 'POST', headers: auth, body: '{not json' })
    assert.equal(badJson.status, 400)
    const extra = await fetch(`${info.api}/v1/gc`, { method: 'POST', headers: auth, body: JSON.stringify({ dryRun: true, wipeEverything: true }) })
    assert.equal(extra.status, 400)
    assert.match((await extra.json() as { message: string }).message, /unknown field 'wipeEverything'/)
    const badBucket = await fetch(`${info.api}/v1/buckets/UP/per/versions`, { headers: auth })
    assert.equal(badBucket.status, 400)

    const docs = await (await fetch(`${info.api}/docs`)).json() as { paths: Record<string, unknown> }
    for (const path of ['/v1/snapshots', '/v1/restores', '/v1/diff', '/v1/verify', '/v1/gc', '/v1/stats', '/v1/id', '/v1/status']) assert.ok(path in docs.paths, path)
    const metrics = await (await fetch(`${info.api}/metrics`)).text()
    assert.match(metrics, /rok_node_http_requests_total/)
  } finally {
    daemon.kill('SIGTERM')
    const result = await exited
    assert.equal(result.code, 0, result.stderr)
  }
  await assert.rejects(stat(join(home, 'node.json')), { code: 'ENOENT' })
  const log = await rokJson(['log', 'd/api', ...h])
  assert.equal(log.length, 1, 'the CLI opens the home itself once the node has stopped')
  await cleanup()
})
