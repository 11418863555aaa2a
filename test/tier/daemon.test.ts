/**
 * The node daemon pushes a new version to the tier by itself, without `rok tier push`,
 * and the tier verbs work through its API while it owns the home.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startNode } from '../../node/daemon.ts'
import { openEngine } from '../../node/engine.ts'
import { configureTier } from '../../node/tier/index.ts'
import { runRok, rokJson } from '../fixtures/cli.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { tempDir, writeSampleTree } from '../fixtures/seeded.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-daemon-')
  Object.assign(process.env, s3.env)
})
after(async () => {
  await s3.stop()
  await cleanup()
})

test('after a snapshot the daemon pushes the new version to the tier', async () => {
  const home = join(dir, 'home')
  await (await openEngine({ home, create: true })).close()
  await configureTier(home, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'daemon' })
  const node = await startNode({ home, logger: false })
  try {
    const data = join(dir, 'data')
    await writeSampleTree(data, { seed: 5, files: 10, maxFileSize: 100_000 })
    await node.engine.snapshot(data, { bucket: 'acme/auto' })
    const deadline = Date.now() + 30_000
    while ((await node.engine.tier!.list('acme/auto')).length === 0) {
      assert.ok(Date.now() < deadline, 'the daemon did not push within 30 s')
      await sleep(200)
    }
    // the tier verbs go through the running daemon's API
    const status = await rokJson(['tier', 'status', '--home', home], s3.env)
    assert.deepEqual(status.unpushedVersions, [])
    assert.equal(status.pushedVersions, 1)
    const again = await rokJson(['tier', 'push', '--home', home], s3.env)
    assert.deepEqual(again.versions, [])
    assert.deepEqual((await rokJson(['tier', 'list', 'acme/auto', '--home', home], s3.env)).map((v: any) => v.seq), [1])
    assert.equal((await rokJson(['verify', '--tier', '--home', home], s3.env)).ok, true)
    const missing = await runRok(['tier', 'pull', 'acme/none@1', '--home', home], s3.env)
    assert.match(missing.stderr, /\[ERR_TIER_VERSION_NOT_FOUND\]/)
  } finally {
    await node.close()
  }
})
