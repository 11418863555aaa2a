/**
 * What a sync's last resort does against a real S3-compatible server: a home that knows
 * the tier's catalog takes the chunks it asks for from the object store, verified, and
 * keeps them; a chunk the tier never had is left missing for the caller to report.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { chunkCid, RAW_CODEC, type CID } from '../../protocol/cid.ts'
import { startS3Server } from '../fixtures/s3-server.ts'
import { seededBytes, tempDir, writeSampleTree } from '../fixtures/seeded.ts'
import { homeWithTier, rok } from './helpers.ts'

test('a node fills chunks no peer had from the object store, and leaves unknown ones missing', async () => {
  const s3 = await startS3Server()
  const [dir, cleanup] = await tempDir('rok-tier-fill-')
  const saved = { ...process.env }
  try {
    const data = join(dir, 'data')
    await writeSampleTree(data, { seed: 21, files: 30, maxFileSize: 150_000 })
    const a = await homeWithTier(dir, 'a', s3)
    await rok(s3, a, ['snapshot', data, '--bucket', 'acme/ds'])
    await rok(s3, a, ['tier', 'push'])
    const b = await homeWithTier(dir, 'b', s3)
    await rok(s3, b, ['tier', 'pull', 'acme/ds']) // records and the catalog, no chunk

    const chunks: CID[] = []
    const engineA = await openEngine({ home: a })
    try {
      for await (const { cid } of engineA.store.blocks()) if (cid.code === RAW_CODEC) chunks.push(cid)
    } finally {
      await engineA.close()
    }
    Object.assign(process.env, s3.env) // the SDK reads credentials from the environment
    const engineB = await openEngine({ home: b })
    try {
      const unknown = chunkCid(seededBytes(99, 1000))
      assert.deepEqual(await engineB.store.hasMany(chunks), chunks.map(() => false), 'b starts without chunks')
      const filled = await engineB.tier!.fillMissing([...chunks, unknown])
      assert.equal(filled.stored.length, chunks.length)
      assert.ok(!filled.stored.some(c => c.equals(unknown)), 'a chunk the tier never had stays missing')
      assert.ok(filled.bytes > 0)
      await engineB.store.flush()
      assert.deepEqual(await engineB.store.hasMany(chunks), chunks.map(() => true))
      const verify = await engineB.verify()
      assert.equal(verify.ok, true)
    } finally {
      await engineB.close()
    }
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
    await s3.stop()
    await cleanup()
  }
})
