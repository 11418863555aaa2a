import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine, type Engine } from '../../node/engine.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { manifestBlocks } from '../../node/snapshot/index.ts'
import type { CID } from '../../protocol/cid.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'

const HOUR = 3_600_000

/** A home on a fake clock, with two versions: v1 = keep + drop files, v2 = keep only. */
async function setup (dir: string): Promise<{ engine: Engine, clock: { now: number }, src: string, dropChunks: () => Promise<CID[]> }> {
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') }
  const engine = await openEngine({ home: join(dir, 'home'), create: true, now: () => clock.now })
  const src = join(dir, 'vol')
  await mkdir(src, { recursive: true })
  for (let i = 0; i < 3; i++) await writeFile(join(src, `keep-${i}.bin`), seededBytes(i, 300_000))
  for (let i = 0; i < 3; i++) await writeFile(join(src, `drop-${i}.bin`), seededBytes(100 + i, 400_000))
  await engine.snapshot(src, { bucket: 'gc/two' })
  const v1 = await engine.buckets.get('gc/two', 1)
  for (let i = 0; i < 3; i++) await writeFile(join(src, `drop-${i}.bin`), '')
  await engine.snapshot(src, { bucket: 'gc/two' })
  const dropChunks = async (): Promise<CID[]> => {
    const out: CID[] = []
    const get = async (c: CID): Promise<Uint8Array> => await engine.store.get(c)
    for await (const b of manifestBlocks(get, v1.record.root)) if (b.type === 'chunk' && b.path?.startsWith('drop-') === true) out.push(b.cid)
    return out
  }
  return { engine, clock, src, dropChunks }
}

test('gc marks first and deletes only after the grace period; the kept version restores byte-exactly', async () => {
  const [dir, cleanup] = await tempDir()
  const { engine, clock, src, dropChunks } = await setup(dir)
  try {
    const drop = await dropChunks()
    assert.ok(drop.length > 0)
    await engine.buckets.remove('gc/two', 1)

    const dry = await engine.gc({ dryRun: true })
    assert.ok(dry.deadBlocks >= drop.length)
    assert.equal(dry.sweptBlocks, 0, 'a dry run with the default grace would delete nothing yet')
    assert.equal(engine.candidates.size, 0, 'a dry run marks nothing')

    const first = await engine.gc()
    assert.equal(first.sweptBlocks, 0)
    assert.equal(first.markedBlocks, first.deadBlocks)
    assert.equal(engine.candidates.size, first.deadBlocks)
    for (const c of drop) assert.equal(await engine.store.locate(c) !== undefined, true, 'still there within the grace period')

    clock.now += 30 * 60_000
    assert.equal((await engine.gc()).sweptBlocks, 0, 'half an hour later: still waiting')
    clock.now += 31 * 60_000
    const late = await engine.gc()
    assert.equal(late.sweptBlocks, first.deadBlocks)
    assert.ok(late.sweptBytes >= 1_200_000)
    for (const c of drop) assert.equal(await engine.store.locate(c), undefined)
    assert.equal(engine.candidates.size, 0)

    assert.equal((await engine.verify()).ok, true)
    await engine.restore({ bucket: 'gc/two', seq: 2, dest: join(dir, 'out') })
    assert.deepEqual(await compareTrees(src, join(dir, 'out'), { rootMeta: false }), [])
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a candidate put again, asked for, or referenced by a new version is rescued', async () => {
  const [dir, cleanup] = await tempDir()
  const { engine, clock, src, dropChunks } = await setup(dir)
  try {
    const drop = await dropChunks()
    await engine.buckets.remove('gc/two', 1)
    await engine.gc()
    assert.ok(engine.candidates.size >= drop.length)

    // has(): a sync checking what it lacks rescues what it finds
    assert.equal(await engine.store.has(drop[0]), true)
    assert.equal(engine.candidates.markedAt(drop[0]), undefined)
    // put() of bytes already present: a snapshot storing them again rescues them
    const bytes = await engine.store.get(drop[1])
    assert.equal(await engine.store.put(drop[1], bytes), false)
    assert.equal(engine.candidates.markedAt(drop[1]), undefined)
    // a new version that references drop-2 again (the file comes back)
    await writeFile(join(src, 'drop-2.bin'), seededBytes(102, 400_000))
    await engine.snapshot(src, { bucket: 'gc/two' })

    clock.now += 2 * HOUR
    const report = await engine.gc()
    assert.ok(report.rescuedBlocks >= 2)
    for (const c of drop.slice(0, 2)) assert.ok(await engine.store.locate(c) !== undefined, 'rescued blocks survive the sweep')
    await engine.restore({ bucket: 'gc/two', seq: 3, dest: join(dir, 'out') })
    assert.deepEqual(await compareTrees(src, join(dir, 'out'), { rootMeta: false }), [])
    assert.equal((await engine.verify()).ok, true)
    // rescued but unreferenced blocks are marked again, and go a grace period later
    clock.now += 2 * HOUR
    await engine.gc()
    assert.equal(await engine.store.locate(drop[0]), undefined)
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a write that began before the mark holds back the sweep until it ends', async () => {
  const [dir, cleanup] = await tempDir()
  const { engine, clock, dropChunks } = await setup(dir)
  try {
    const drop = await dropChunks()
    await engine.buckets.remove('gc/two', 1)
    const release = engine.candidates.lease(clock.now)
    clock.now += 1000
    await engine.gc({ graceMs: 0 })
    clock.now += 2 * HOUR
    assert.equal((await engine.gc({ graceMs: 0 })).sweptBlocks, 0, 'nothing goes while the older write runs')
    release()
    const after = await engine.gc({ graceMs: 0 })
    assert.ok(after.sweptBlocks >= drop.length)
    // a write that begins after the mark is protected by rescue instead, so it does not hold gc back
    const late = engine.candidates.lease(clock.now + 1)
    assert.equal(engine.candidates.oldestLease(), clock.now + 1)
    late()
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('candidates survive a restart with their mark time; one gc at a time', async () => {
  const [dir, cleanup] = await tempDir()
  let { engine, clock, dropChunks } = await setup(dir)
  try {
    const drop = await dropChunks()
    await engine.buckets.remove('gc/two', 1)
    const marked = await engine.gc()
    const at = engine.candidates.markedAt(drop[0])
    await engine.close()
    engine = await openEngine({ home: join(dir, 'home'), now: () => clock.now })
    assert.equal(engine.candidates.size, marked.markedBlocks)
    assert.equal(engine.candidates.markedAt(drop[0]), at)
    const [a, b] = await Promise.allSettled([engine.gc(), engine.gc()])
    assert.equal(a.status, 'fulfilled')
    assert.equal(b.status === 'rejected' && (b.reason as { code: string }).code, 'ERR_GC_RUNNING')
    clock.now += 2 * HOUR
    assert.equal((await engine.gc()).sweptBlocks, marked.markedBlocks)
    const v2 = await engine.buckets.get('gc/two', 2)
    const { record } = await decodeVersionRecord(await engine.store.get(v2.cid))
    assert.equal(record.seq, 2)
  } finally {
    await engine.close()
    await cleanup()
  }
})
