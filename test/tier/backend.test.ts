/**
 * One suite for every object backend: the local folder and S3 (a real s3rver started
 * here). Each case runs against both, so they behave alike for the tier.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { localBackend, withRetry, type ObjectBackend } from '../../node/tier/index.ts'
import { s3Backend } from '../../node/tier/s3-backend.ts'
import { startS3Server, type S3Server } from '../fixtures/s3-server.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

interface Subject { name: string, make: () => Promise<{ backend: ObjectBackend, missingBucket: ObjectBackend, cleanup: () => Promise<void> }> }

let s3: S3Server
const subjects: Subject[] = [
  {
    name: 'local folder',
    make: async () => {
      const [dir, cleanup] = await tempDir('rok-tier-folder-')
      await mkdir(join(dir, 'root'))
      return { backend: localBackend(join(dir, 'root')), missingBucket: localBackend(join(dir, 'absent')), cleanup }
    }
  },
  {
    name: 's3 (s3rver)',
    make: async () => {
      const creds = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
      // a fresh prefix per case keeps cases apart in one bucket
      const prefix = `case-${Math.random().toString(16).slice(2)}`
      return {
        backend: s3Backend({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix, pathStyle: true, credentials: creds, partSize: 5 * 1024 * 1024 }),
        missingBucket: s3Backend({ endpoint: s3.endpoint, region: s3.region, bucket: 'no-such-bucket', prefix: '', pathStyle: true, credentials: creds }),
        cleanup: async () => {}
      }
    }
  }
]

before(async () => { s3 = await startS3Server() })
after(async () => { await s3.stop() })

for (const subject of subjects) {
  describe(`object backend: ${subject.name}`, () => {
    test('put, get whole and ranged, head, overwrite, delete', async () => {
      const { backend, cleanup } = await subject.make()
      try {
        await backend.check()
        const body = seededBytes(1, 100_000)
        await backend.put('packs/ab/one', body)
        assert.deepEqual(await backend.get('packs/ab/one'), body)
        assert.deepEqual(await backend.get('packs/ab/one', { range: { offset: 1000, length: 500 } }), body.subarray(1000, 1500))
        assert.deepEqual(await backend.get('packs/ab/one', { range: { offset: 99_990, length: 100 } }), body.subarray(99_990), 'a range past the end is cut short')
        assert.equal((await backend.head('packs/ab/one'))?.size, 100_000)
        assert.equal(await backend.head('packs/ab/none'), undefined)
        const other = seededBytes(2, 10)
        await backend.put('packs/ab/one', other)
        assert.deepEqual(await backend.get('packs/ab/one'), other)
        await backend.delete('packs/ab/one')
        assert.equal(await backend.head('packs/ab/one'), undefined)
        await backend.delete('packs/ab/one') // deleting a missing object is fine
      } finally { await cleanup() }
    })

    test('a large object goes up whole (multipart on S3) and reads back exactly', async () => {
      const { backend, cleanup } = await subject.make()
      try {
        const body = seededBytes(3, 12 * 1024 * 1024 + 17)
        await backend.put('big', body)
        const back = await backend.get('big')
        assert.equal(back.length, body.length)
        assert.ok(Buffer.from(back).equals(Buffer.from(body)))
      } finally { await cleanup() }
    })

    test('list by prefix, in key order, with sizes', async () => {
      const { backend, cleanup } = await subject.make()
      try {
        for (const key of ['versions/a/b/000000000000002', 'versions/a/b/000000000000001', 'versions/a/c/000000000000001', 'packs/00/x']) {
          await backend.put(key, new TextEncoder().encode(key))
        }
        const all = await backend.list('versions/')
        assert.deepEqual(all.map(o => o.key), ['versions/a/b/000000000000001', 'versions/a/b/000000000000002', 'versions/a/c/000000000000001'])
        assert.equal(all[0].size, 'versions/a/b/000000000000001'.length)
        assert.ok(all[0].modified > Date.now() - 600_000)
        assert.deepEqual((await backend.list('versions/a/c/')).map(o => o.key), ['versions/a/c/000000000000001'])
        assert.deepEqual(await backend.list('nothing/'), [])
      } finally { await cleanup() }
    })

    test('a missing object is ERR_TIER_OBJECT_NOT_FOUND; a missing bucket fails the check', async () => {
      const { backend, missingBucket, cleanup } = await subject.make()
      try {
        await assert.rejects(backend.get('packs/00/missing'), { code: 'ERR_TIER_OBJECT_NOT_FOUND' })
        await assert.rejects(missingBucket.check(), { code: 'ERR_TIER_NO_SUCH_BUCKET' })
      } finally { await cleanup() }
    })

    test('keys that could escape the root are refused', async () => {
      const { backend, cleanup } = await subject.make()
      try {
        for (const key of ['../x', 'a/../../x', '/abs', 'a//b', '']) {
          await assert.rejects(backend.put(key, new Uint8Array(1)), { code: 'ERR_TIER_INVALID_CONFIG' }, key)
        }
      } finally { await cleanup() }
    })
  })
}

describe('object backend: S3 failures', () => {
  test('unknown credentials are ERR_TIER_ACCESS_DENIED', async () => {
    const bad = s3Backend({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: '', pathStyle: true, credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } })
    await assert.rejects(bad.check(), { code: 'ERR_TIER_ACCESS_DENIED' })
  })

  test('a server that does not answer is retried with backoff, then ERR_TIER_UNREACHABLE naming the attempts', async () => {
    const down = await startS3Server()
    const endpoint = down.endpoint
    await down.stop()
    let requests = 0
    const retries: number[] = []
    const backend = withRetry(s3Backend({
      endpoint, region: s3.region, bucket: s3.bucket, prefix: '', pathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, onRequest: () => { requests++ }
    }), { attempts: 3, baseMs: 20, onRetry: r => retries.push(r.attempt) })
    await assert.rejects(backend.put('x', new Uint8Array(10)), (err: any) => {
      assert.equal(err.code, 'ERR_TIER_UNREACHABLE')
      assert.match(err.message, /after 3 attempts/)
      return true
    })
    assert.deepEqual(retries, [1, 2])
    assert.equal(requests, 3)
  })
  test('a store killed mid-PUT comes back whole: the cut object is gone, the others still read', async () => {
    const store = await startS3Server()
    try {
      const creds = { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey }
      const backend = s3Backend({ endpoint: store.endpoint, region: store.region, bucket: store.bucket, prefix: 'p', pathStyle: true, credentials: creds })
      await backend.put('kept', seededBytes(1, 1000))
      await backend.put('cut', seededBytes(2, 1000))
      await store.kill()
      // what s3rver leaves when killed between an object's bytes and its metadata
      const files = await readdir(join(store.directory, store.bucket, 'p'))
      const metadata = files.find(f => f.startsWith('cut.') && f.endsWith('metadata.json'))
      assert.ok(metadata !== undefined, `s3rver's layout changed: ${files.join(', ')}`)
      await writeFile(join(store.directory, store.bucket, 'p', metadata), '')
      await store.restart()
      assert.deepEqual((await backend.list('')).map(o => o.key), ['kept'])
      assert.deepEqual(await backend.get('kept'), seededBytes(1, 1000))
    } finally { await store.stop() }
  })
})
