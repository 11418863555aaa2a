/**
 * Faults during a push: the object store dies mid-upload (retries, then a clear error;
 * the next run resumes), and the `rok tier push` process is killed with SIGKILL
 * mid-upload (the tier stays consistent: `rok verify --tier` passes, the next push
 * completes, and a fresh home restores byte-exactly from the store).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { collect, spawnRok } from '../fixtures/cli.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { tempDir, writeSampleTree } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { homeWithTier, packsInStore, rok } from './helpers.ts'
import { PUSH_CONCURRENCY } from '../../node/tier/constants.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-faults-')
})
after(async () => {
  await s3.stop()
  await cleanup()
})

/** Wait until `n` more packs than `base` are in the store (other tests share the bucket). */
async function waitForPacks (base: number, n: number, child: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 60_000
  while (await packsInStore(s3) < base + n) {
    assert.equal(child.exitCode, null, 'the push ended before it could be interrupted')
    assert.ok(Date.now() < deadline, 'no packs were uploaded')
    await sleep(10)
  }
}

/** A home with a version of ~8 MB and small packs, so a push takes many uploads. */
async function setup (name: string): Promise<{ home: string, data: string }> {
  const data = join(dir, `${name}-data`)
  await writeSampleTree(data, { seed: name.length * 31, files: 60, maxFileSize: 600_000 })
  const home = await homeWithTier(dir, name, s3, ['--pack-size', String(128 * 1024), '--attempts', '3', '--retry-delay', '50'])
  await rok(s3, home, ['snapshot', data, '--bucket', `acme/${name}`])
  return { home, data }
}

async function restoresFromFreshHome (name: string, data: string): Promise<void> {
  const fresh = await homeWithTier(dir, `${name}-fresh`, s3)
  await rok(s3, fresh, ['tier', 'pull', `acme/${name}@1`, '--data'])
  const out = join(dir, `${name}-out`)
  await rok(s3, fresh, ['restore', `acme/${name}@1`, out])
  assert.deepEqual(await compareTrees(data, out), [])
}

test('the object store dies mid-upload: retries, a clear error, and the next push resumes', async () => {
  const { home, data } = await setup('down')
  const base = await packsInStore(s3)
  const child = spawnRok(['tier', 'push', '--home', home, '--json'], s3.env)
  const done = collect(child)
  // two uploads run at once and each is recorded before its slot frees, so once 3 + 2
  // objects are stored at least 3 packs are recorded (the store can hold an object whose
  // answer the pusher has not seen yet)
  await waitForPacks(base, 3 + PUSH_CONCURRENCY, child)
  await s3.kill()
  const failed = await done
  await s3.restart()
  assert.equal(failed.code, 1, failed.stdout)
  assert.match(failed.stderr, /gave up after 3 attempts.*\[ERR_TIER_UNREACHABLE\]/)

  const before = await packsInStore(s3)
  const status = await rok(s3, home, ['tier', 'status'])
  assert.deepEqual(status.unpushedVersions, ['acme/down@1'])
  assert.ok(status.packs >= 3, 'packs uploaded before the failure are recorded')
  const resumed = await rok(s3, home, ['tier', 'push'])
  assert.deepEqual(resumed.versions, ['acme/down@1'])
  const total = status.blocks + resumed.blocks
  assert.ok(resumed.blocks < total, 'blocks already in the store were not sent again')
  assert.ok(await packsInStore(s3) > before)
  assert.equal((await rok(s3, home, ['verify', '--tier'])).ok, true)
  await restoresFromFreshHome('down', data)
})

test('kill -9 of rok tier push mid-upload: verify --tier passes, the next push completes, a fresh home restores', async () => {
  const { home, data } = await setup('killed')
  const base = await packsInStore(s3)
  const child = spawnRok(['tier', 'push', '--home', home], s3.env)
  const done = collect(child)
  await waitForPacks(base, 6, child)
  child.kill('SIGKILL')
  const killed = await done
  assert.equal(killed.signal, 'SIGKILL')

  const check = await rok(s3, home, ['verify', '--tier'])
  assert.equal(check.ok, true, JSON.stringify(check.damaged))
  assert.equal((await rok(s3, home, ['verify'])).ok, true, 'nothing local was lost')
  const status = await rok(s3, home, ['tier', 'status'])
  assert.deepEqual(status.unpushedVersions, ['acme/killed@1'])

  const resumed = await rok(s3, home, ['tier', 'push'])
  assert.deepEqual(resumed.versions, ['acme/killed@1'])
  assert.ok(status.blocks + status.interruptedUploads > 0 && resumed.blocks > 0, `the killed push recorded its finished uploads: ${JSON.stringify({ status, resumed })}`)
  assert.equal((await rok(s3, home, ['verify', '--tier'])).ok, true)
  await restoresFromFreshHome('killed', data)
})
