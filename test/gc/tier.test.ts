/**
 * `rok gc` with an object-storage tier: the engine's gc sweeps the tier with the same live
 * set as the local store (real s3rver). After forget + gc past the grace period the
 * forgotten version's packs are gone from the object store, and a fresh home given only
 * the object store restores the kept version byte-exactly.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { configureTier } from '../../node/tier/index.ts'
import { startS3Server } from '../fixtures/s3-server.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'

test('gc sweeps the object-storage tier against the same live set', { timeout: 180_000 }, async () => {
  const s3 = await startS3Server()
  const [dir, cleanup] = await tempDir('rok-gc-tier-')
  const saved = { ...process.env }
  Object.assign(process.env, s3.env)
  try {
    const home = join(dir, 'home')
    await (await openEngine({ home, create: true })).close()
    await configureTier(home, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'gc', packSize: 1024 * 1024 })
    const clock = { now: Date.parse('2026-02-01T00:00:00Z') }
    const engine = await openEngine({ home, now: () => clock.now })
    const src = join(dir, 'src')
    try {
      await mkdir(src, { recursive: true })
      await writeFile(join(src, 'a.bin'), seededBytes(1, 3_000_000))
      await engine.snapshot(src, { bucket: 'acme/t' })
      await writeFile(join(src, 'a.bin'), seededBytes(2, 3_000_000))
      await engine.snapshot(src, { bucket: 'acme/t' })
      await engine.tier!.push()
      const packsBefore = (await engine.tier!.backend.list('packs/')).length
      await engine.forget('acme/t', { keepLast: 1 })

      const first = await engine.gc()
      assert.ok(first.tier !== undefined, 'the report says what the tier sweep did')
      assert.ok(first.tier.packsMarked > 0, `tier packs marked: ${JSON.stringify(first.tier)}`)
      assert.equal(first.tier.packsDeleted, 0, 'nothing deleted inside the grace period')
      clock.now += 2 * 3_600_000
      const second = await engine.gc()
      assert.ok(second.tier!.packsDeleted > 0, JSON.stringify(second.tier))
      assert.ok(second.sweptBlocks > 0)
      assert.ok((await engine.tier!.backend.list('packs/')).length < packsBefore)
      assert.equal((await engine.verify()).ok, true)
    } finally {
      await engine.close()
    }
    const fresh = join(dir, 'fresh')
    await (await openEngine({ home: fresh, create: true })).close()
    await configureTier(fresh, { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, prefix: 'gc' })
    const other = await openEngine({ home: fresh })
    try {
      await other.tier!.pull('acme/t', 2, { data: true })
      await other.restore({ bucket: 'acme/t', seq: 2, dest: join(dir, 'out') })
      assert.deepEqual(await compareTrees(src, join(dir, 'out'), { rootMeta: false }), [])
    } finally {
      await other.close()
    }
  } finally {
    process.env = saved
    await s3.stop()
    await cleanup()
  }
})
