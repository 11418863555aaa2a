/**
 * kill -9 of `rok gc` while it sweeps the object-storage tier: afterwards `rok verify`
 * and `rok verify --tier` pass, the next gc finishes the work, and the retained version
 * restores byte-exactly on a fresh home from the store alone.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { collect, runRok, spawnRok } from '../fixtures/cli.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { tempDir, writeSampleTree } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { homeWithTier, packsInStore, rok } from './helpers.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-gckill-')
})
after(async () => {
  await s3.stop()
  await cleanup()
})

test('kill -9 during the tier sweep of rok gc leaves a consistent tier', async () => {
  const home = await homeWithTier(dir, 'a', s3, ['--pack-size', String(64 * 1024)])
  const v1 = join(dir, 'v1')
  const v2 = join(dir, 'v2')
  await writeSampleTree(v1, { seed: 41, files: 80, maxFileSize: 120_000 })
  await writeSampleTree(v2, { seed: 42, files: 30, maxFileSize: 120_000 })
  await rok(s3, home, ['snapshot', v1, '--bucket', 'acme/g'])
  await rok(s3, home, ['snapshot', v2, '--bucket', 'acme/g'])
  await rok(s3, home, ['tier', 'push'])
  await rok(s3, home, ['forget', 'acme/g', '--keep-last', '1'])
  // first run marks v1's packs; they are deleted by a later run
  const marked = await rok(s3, home, ['gc', '--grace', '0'])
  assert.ok(marked.tier.packsMarked > 10, JSON.stringify(marked.tier))
  const before = await packsInStore(s3)

  const child = spawnRok(['gc', '--grace', '0', '--home', home], s3.env)
  const done = collect(child)
  const deadline = Date.now() + 60_000
  // kill as soon as the sweep has deleted some packs, but not all
  while (await packsInStore(s3) > before - 3) {
    assert.equal(child.exitCode, null, 'gc ended before it could be interrupted')
    assert.ok(Date.now() < deadline)
    await sleep(5)
  }
  child.kill('SIGKILL')
  assert.equal((await done).signal, 'SIGKILL')
  const midway = await packsInStore(s3)
  assert.ok(midway < before, 'the killed gc had deleted some packs')

  assert.equal((await rok(s3, home, ['verify'])).ok, true)
  const tierCheck = await runRok(['verify', '--tier', '--home', home, '--json'], s3.env)
  assert.equal(tierCheck.code, 0, tierCheck.stdout + tierCheck.stderr)
  const again = await rok(s3, home, ['gc', '--grace', '0'])
  assert.equal(again.tier.candidatesPending, 0)
  assert.ok(await packsInStore(s3) <= midway)
  assert.equal((await rok(s3, home, ['verify', '--tier'])).ok, true)

  const fresh = await homeWithTier(dir, 'fresh', s3)
  assert.deepEqual((await rok(s3, fresh, ['tier', 'list'])).map((v: any) => v.seq), [2])
  await rok(s3, fresh, ['tier', 'pull', 'acme/g@2', '--data'])
  const out = join(dir, 'out')
  await rok(s3, fresh, ['restore', 'acme/g@2', out])
  assert.deepEqual(await compareTrees(v2, out), [])
})
