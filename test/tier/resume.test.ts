/**
 * A pack left half-written by an interrupted upload (S3 never shows one, but s3rver
 * killed mid-write does): the next push removes it and sends the blocks again, and a
 * fresh home pulling from the store skips it.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { configureTier } from '../../node/tier/index.ts'
import { packKey } from '../../node/tier/pack.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { tempDir, writeSampleTree } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-resume-')
  Object.assign(process.env, s3.env)
})
after(async () => {
  await s3.stop()
  await cleanup()
})

test('a half-written pack is removed by the next push and skipped by a fresh pull', async () => {
  const home = join(dir, 'a')
  await (await openEngine({ home, create: true })).close()
  await configureTier(home, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'resume' })
  const data = join(dir, 'data')
  await writeSampleTree(data, { seed: 9, files: 20, maxFileSize: 100_000 })
  const engine = await openEngine({ home })
  const junk = 'ab'.repeat(32)
  try {
    await engine.snapshot(data, { bucket: 'acme/r' })
    const tier = engine.tier!
    // an upload announced, then cut short after 10 bytes
    await tier.catalog.beginUpload(junk, Date.now())
    await tier.backend.put(packKey(junk), new Uint8Array(10))
    const report = await tier.push()
    assert.deepEqual(report.versions, ['acme/r@1'])
    assert.equal(report.resumedPacks, 0)
    assert.equal(await tier.backend.head(packKey(junk)), undefined, 'the half-written pack is gone')
    assert.deepEqual(await tier.catalog.uploads(), [])
    assert.equal((await tier.verify()).ok, true)
    // another node's half-written pack in the store
    await tier.backend.put(packKey('cd'.repeat(32)), new Uint8Array(3))
  } finally {
    await engine.close()
  }
  const fresh = join(dir, 'b')
  await (await openEngine({ home: fresh, create: true })).close()
  await configureTier(fresh, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'resume' })
  const other = await openEngine({ home: fresh })
  try {
    await other.tier!.pull('acme/r', 1, { data: true })
    const out = join(dir, 'out')
    await other.restore({ bucket: 'acme/r', seq: 1, dest: out })
    assert.deepEqual(await compareTrees(data, out), [])
  } finally {
    await other.close()
  }
})
