/**
 * Tier garbage collection (sweepTier) against a real s3rver: a dry run changes nothing;
 * packs with nothing live are marked, kept through the grace period and then deleted;
 * a candidate holding a block that is live again is rescued; a mostly-garbage pack is
 * rewritten; the retained versions restore from a fresh home afterwards, and that home's
 * own sweep leaves alone what it did not write.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine, type Engine } from '../../node/engine.ts'
import { manifestBlocks } from '../../node/snapshot/index.ts'
import { configureTier } from '../../node/tier/index.ts'
import { CID } from '../../protocol/cid.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'

let s3: S3Server
let dir: string
let cleanup: () => Promise<void>

before(async () => {
  s3 = await startS3Server()
  ;[dir, cleanup] = await tempDir('rok-tier-sweep-')
  // the SDK's standard credential chain reads these
  Object.assign(process.env, s3.env)
})
after(async () => {
  await s3.stop()
  await cleanup()
})

/** Every block of the given versions, and their record CIDs: what `rok gc` passes as live. */
async function liveSet (engine: Engine, versions: Array<[string, number]>): Promise<Set<string>> {
  const live = new Set<string>()
  for (const [bucket, seq] of versions) {
    const v = await engine.buckets.get(bucket, seq)
    live.add(v.cid.toString())
    for await (const b of manifestBlocks(async c => await engine.store.get(c), v.record.root)) live.add(b.cid.toString())
  }
  return live
}

async function packObjects (engine: Engine): Promise<number> {
  return (await engine.tier!.backend.list('packs/')).length
}

test('sweep: dry run, mark, grace, rescue, rewrite, delete; retained versions still restore', async () => {
  let clock = Date.parse('2026-01-01T00:00:00Z')
  const home = join(dir, 'home')
  const opened = await openEngine({ home, create: true })
  await opened.close()
  await configureTier(home, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'sweep', packSize: 1024 * 1024 })
  const engine = await openEngine({ home, now: () => clock })
  try {
    const tier = engine.tier!
    // v1 and v2 share nothing; v3 keeps the first fifth of v2's file
    const folder = async (name: string, files: Record<string, Uint8Array>): Promise<string> => {
      const p = join(dir, name)
      await mkdir(p, { recursive: true })
      for (const [f, bytes] of Object.entries(files)) await writeFile(join(p, f), bytes)
      return p
    }
    const v2bytes = seededBytes(2, 1_000_000)
    await engine.snapshot(await folder('v1', { 'a.bin': seededBytes(1, 1_000_000) }), { bucket: 'acme/s' })
    const v2dir = await folder('v2', { 'b.bin': v2bytes })
    await engine.snapshot(v2dir, { bucket: 'acme/s' })
    const v3dir = await folder('v3', { 'b.bin': v2bytes.subarray(0, 200_000) })
    await engine.snapshot(v3dir, { bucket: 'acme/s' })
    await tier.push()
    const packsBefore = await packObjects(engine)

    // only v3 is retained
    const live = await liveSet(engine, [['acme/s', 3]])
    const dry = await tier.sweep(live, { dryRun: true, graceMs: 1000 })
    assert.equal(dry.versionsRemoved, 2)
    assert.ok(dry.packsMarked >= 2, `v1's pack and v2's old pack go: ${JSON.stringify(dry)}`)
    assert.ok(dry.packsRewritten >= 1, 'a pack holding v3\'s first chunks among v2\'s is rewritten')
    assert.equal(await packObjects(engine), packsBefore, 'a dry run changes nothing')
    assert.equal((await tier.list('acme/s')).length, 3)

    const first = await tier.sweep(live, { graceMs: 1000 })
    assert.equal(first.versionsRemoved, 2)
    assert.equal(first.packsMarked, dry.packsMarked)
    assert.equal(first.packsDeleted, 0, 'nothing is deleted in the run that marks it')
    assert.deepEqual((await tier.list('acme/s')).map(v => v.seq), [3])
    assert.equal((await tier.verify()).ok, true)

    // within the grace period nothing goes
    clock += 500
    const early = await tier.sweep(live, { graceMs: 1000 })
    assert.equal(early.packsDeleted, 0)
    assert.equal(early.candidatesPending, first.packsMarked)

    // a block of v1 becomes live again (a version referencing it was pushed just before
    // the mark): its pack is rescued, not deleted
    const v1 = await engine.buckets.get('acme/s', 1)
    let v1chunk: string | undefined
    for await (const b of manifestBlocks(async c => await engine.store.get(c), v1.record.root)) if (b.type === 'chunk') { v1chunk = b.cid.toString(); break }
    clock += 1000
    const rescued = await tier.sweep(new Set([...live, v1chunk!]), { graceMs: 1000 })
    assert.equal(rescued.packsRescued, 1)
    assert.equal(rescued.packsDeleted, first.packsMarked - 1)
    assert.equal((await tier.fetch([CID.parse(v1chunk!)])).size >= 1, true, 'the rescued block is fetchable again')

    // once v1's chunk is garbage again, its pack goes in two more runs
    await tier.sweep(live, { graceMs: 1000 })
    clock += 2000
    const last = await tier.sweep(live, { graceMs: 1000 })
    assert.equal(last.packsDeleted, 1)
    assert.equal(last.candidatesPending, 0)
    assert.ok(await packObjects(engine) < packsBefore)
    const verify = await tier.verify()
    assert.equal(verify.ok, true, JSON.stringify(verify.damaged))
  } finally {
    await engine.close()
  }

  // a fresh home restores the retained version from what is left
  const fresh = join(dir, 'fresh')
  await (await openEngine({ home: fresh, create: true })).close()
  await configureTier(fresh, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'sweep' })
  const other = await openEngine({ home: fresh })
  try {
    assert.deepEqual((await other.tier!.list()).map(v => `${v.bucket}@${v.seq}`), ['acme/s@3'])
    await other.tier!.pull('acme/s', 3, { data: true })
    const out = join(dir, 'out3')
    await other.restore({ bucket: 'acme/s', seq: 3, dest: out })
    assert.deepEqual(await compareTrees(join(dir, 'v3'), out, { rootMeta: false }), [])
    const { record } = await decodeVersionRecord(await other.store.get((await other.buckets.get('acme/s', 3)).cid))
    assert.equal(record.seq, 3)
    // a node that only pulled from the tier never collects what another node wrote there
    const foreign = await other.tier!.sweep(new Set(), { graceMs: 0 })
    assert.equal(foreign.versionsRemoved, 0)
    assert.equal(foreign.packsMarked, 0)
    assert.deepEqual((await other.tier!.list()).map(v => v.seq), [3])
  } finally {
    await other.close()
  }
})
