/**
 * Push and pull through a real S3-compatible server (s3rver), with the real CLI: dedup of
 * a second push and of a 1%-changed version, and a brand-new home that restores from the
 * object store alone — lazily (chunks fetched on restore) and with --data (restore works
 * with the server gone).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runRok } from '../fixtures/cli.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { seededBytes, tempDir, writeSampleTree } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { homeWithTier, rok } from './helpers.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-rt-')
})
after(async () => {
  await s3.stop()
  await cleanup()
})

test('push, dedup, and a fresh home restores every version from the object store alone', async () => {
  const data = join(dir, 'data')
  await writeSampleTree(data, { seed: 11, files: 40, maxFileSize: 200_000 })
  await mkdir(join(data, 'big'))
  const big = join(data, 'big', 'model.bin')
  const fd = await open(big, 'w')
  await fd.write(seededBytes(12, 8 * 1024 * 1024))
  await fd.close()
  const a = await homeWithTier(dir, 'a', s3, ['--pack-size', String(2 * 1024 * 1024)])

  await rok(s3, a, ['snapshot', data, '--bucket', 'acme/ds'])
  const p1 = await rok(s3, a, ['tier', 'push'])
  assert.deepEqual(p1.versions, ['acme/ds@1'])
  assert.ok(p1.packs >= 4, `several packs for ~9 MB at 2 MiB each, got ${p1.packs}`)
  assert.ok(p1.blocks > 100, 'small chunks share packs')

  // the same data again: nothing is uploaded
  const again = await rok(s3, a, ['tier', 'push'])
  assert.deepEqual(again.versions, [])
  assert.equal(again.uploadedBytes, 0)
  assert.equal(again.alreadyPushed, 1)

  // v2: 1% of the bytes changed in place
  const w = await open(big, 'r+')
  await w.write(seededBytes(13, 90_000), 0, 90_000, 4 * 1024 * 1024)
  await w.close()
  await rok(s3, a, ['snapshot', data, '--bucket', 'acme/ds'])
  const p2 = await rok(s3, a, ['tier', 'push'])
  assert.deepEqual(p2.versions, ['acme/ds@2'])
  assert.ok(p2.blockBytes < 0.05 * p1.blockBytes, `v2 sent ${p2.blockBytes} bytes of blocks, v1 ${p1.blockBytes}`)
  assert.ok(p2.packs <= 2, `v2 needs one data and one manifest pack, got ${p2.packs}`)

  const status = await rok(s3, a, ['tier', 'status'])
  assert.equal(status.pushedVersions, 2)
  assert.deepEqual(status.unpushedVersions, [])
  const verifyA = await rok(s3, a, ['verify', '--tier'])
  assert.equal(verifyA.ok, true, JSON.stringify(verifyA.damaged))

  // a brand-new home, given only the object store
  const b = await homeWithTier(dir, 'b', s3)
  const listed = await rok(s3, b, ['tier', 'list'])
  assert.deepEqual(listed.map((v: any) => `${v.bucket}@${v.seq}`), ['acme/ds@1', 'acme/ds@2'])
  const lazy = await rok(s3, b, ['tier', 'pull', 'acme/ds'])
  assert.equal(lazy.seq, 2, 'without @SEQ the latest version')
  assert.equal(lazy.bytes, 0, 'without --data no chunk is copied')
  const out2 = join(dir, 'out2')
  await rok(s3, b, ['restore', 'acme/ds@2', out2])
  assert.deepEqual(await compareTrees(data, out2), [])

  const eager = await rok(s3, b, ['tier', 'pull', 'acme/ds@1', '--data'])
  // restoring v2 kept its chunks here: --data only copies the ones v1 does not share
  assert.ok(eager.bytes > 90_000 && eager.bytes < 1024 * 1024, `--data copies v1's missing chunks, got ${eager.bytes}`)
  const verifyB = await rok(s3, b, ['verify'])
  assert.equal(verifyB.ok, true)
  assert.equal((await rok(s3, b, ['verify', '--tier'])).ok, true)

  // with --data the version restores with the object store gone
  await s3.kill()
  try {
    const out1 = join(dir, 'out1')
    await rok(s3, b, ['restore', 'acme/ds@1', out1])
    const reference = join(dir, 'out1-from-a')
    await rok(s3, a, ['restore', 'acme/ds@1', reference])
    assert.deepEqual(await compareTrees(reference, out1), [])
    assert.ok(Buffer.from(await readFile(join(out1, 'big', 'model.bin'))).equals(Buffer.from(seededBytes(12, 8 * 1024 * 1024))))
  } finally {
    await s3.restart()
  }
})

test('tier verbs say what is wrong: no tier, missing bucket, unknown credentials, bad settings', async () => {
  const home = join(dir, 'bad')
  assert.equal((await runRok(['init', '--home', home], s3.env)).code, 0)
  const push = await runRok(['tier', 'push', '--home', home], s3.env)
  assert.equal(push.code, 1)
  assert.match(push.stderr, /rok tier set.*\[ERR_TIER_NOT_CONFIGURED\]/)

  const missing = await runRok(['tier', 'set', '--endpoint', s3.endpoint, '--bucket', 'no-such-bucket', '--path-style', '--home', home], s3.env)
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /bucket 'no-such-bucket' does not exist.*\[ERR_TIER_NO_SUCH_BUCKET\]/)

  const denied = await runRok(['tier', 'set', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--path-style', '--home', home], { ...s3.env, AWS_ACCESS_KEY_ID: 'NOBODY' })
  assert.equal(denied.code, 1)
  assert.match(denied.stderr, /refused the credentials.*AWS_ACCESS_KEY_ID.*\[ERR_TIER_ACCESS_DENIED\]/)

  const noCreds = await runRok(['tier', 'set', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--path-style', '--home', home], { ...s3.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' })
  assert.equal(noCreds.code, 1)
  assert.match(noCreds.stderr, /\[ERR_TIER_ACCESS_DENIED\]/)

  for (const [args, pattern] of [
    [['--endpoint', 'ftp://x', '--bucket', 'abc'], /must be http/],
    [['--endpoint', 'not a url', '--bucket', 'abc'], /is not a URL/],
    [['--endpoint', s3.endpoint, '--bucket', 'A_B'], /not a valid bucket name/],
    [['--endpoint', s3.endpoint, '--bucket', 'abc', '--prefix', 'a/../b'], /--prefix/],
    [['--endpoint', 'http://user:pw@host', '--bucket', 'abc'], /must not contain credentials/]
  ] as Array<[string[], RegExp]>) {
    const r = await runRok(['tier', 'set', ...args, '--home', home], s3.env)
    assert.equal(r.code, 1, args.join(' '))
    assert.match(r.stderr, pattern)
    assert.match(r.stderr, /\[ERR_TIER_INVALID_CONFIG\]/)
  }
  // nothing was saved by any failed attempt
  const still = await runRok(['tier', 'status', '--home', home], s3.env)
  assert.match(still.stderr, /\[ERR_TIER_NOT_CONFIGURED\]/)

  const unreachable = await runRok(['tier', 'set', '--endpoint', 'http://127.0.0.1:9', '--bucket', 'abc', '--path-style', '--attempts', '2', '--retry-delay', '10', '--home', home], s3.env)
  assert.equal(unreachable.code, 1)
  assert.match(unreachable.stderr, /after 2 attempts.*\[ERR_TIER_UNREACHABLE\]/)

  const pullMissing = await runRok(['tier', 'pull', 'acme/none', '--home', join(dir, 'a')], s3.env)
  assert.match(pullMissing.stderr, /\[ERR_TIER_VERSION_NOT_FOUND\]/)
})
