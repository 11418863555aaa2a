/**
 * Step snapshots through the real Rok snapshot engine (node/engine.ts): every step's
 * data folder is snapshotted before and after it, into bucket kale/<pipeline>, and
 * `--from STEP --run RUN` restores the earlier run's state from Rok — it works even
 * when the earlier run's own folder is gone.
 */
import assert from 'node:assert/strict'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openEngine, type Engine } from '../../node/engine.ts'
import { loadPipeline } from '../../kale/load.ts'
import { runPaths } from '../../kale/runner/records.ts'
import { runPipeline } from '../../kale/runner/run.ts'
import { stepSnapshots } from '../../kale/runner/snapshots.ts'
import { EXAMPLES, PYTHON, kale, tempDir, writeNotebook } from './helpers.ts'

let dir: string
let cleanup: () => Promise<void>
before(async () => { [dir, cleanup] = await tempDir() })
after(async () => { await cleanup() })

describe('step snapshots', () => {
  let engine: Engine
  const rokHome = () => join(dir, 'rok')
  const kaleHome = () => join(dir, 'kale')

  before(async () => { engine = await openEngine({ home: rokHome(), create: true }) })
  after(async () => { await engine.close() })

  it('snapshots each step’s data folder before and after it, in bucket kale/<pipeline>', async () => {
    const pipeline = await loadPipeline(join(EXAMPLES, 'linear.ipynb'), { python: PYTHON })
    const run = await runPipeline(pipeline, { python: PYTHON, kaleHome: kaleHome(), params: { n: 3, scale: 1 }, snapshots: stepSnapshots(engine, pipeline.name) })
    assert.equal(run.status, 'succeeded')
    assert.equal(run.snapshotBucket, 'kale/linear')
    const seqs = run.steps.flatMap(s => [s.snapshots?.before?.seq, s.snapshots?.after?.seq])
    // "before" a step reuses the previous "after" when nothing ran in between.
    assert.deepEqual(seqs, [1, 2, 2, 3, 3, 4, 4, 5])
    // The "after load" version holds exactly what load saved; "before load" is empty.
    const afterLoad = join(dir, 'restored-after-load')
    await engine.restore({ bucket: 'kale/linear', seq: run.steps[0].snapshots!.after!.seq, dest: afterLoad })
    assert.deepEqual(await readdir(afterLoad), ['load'])
    assert.deepEqual(await readdir(join(afterLoad, 'load')), ['numbers.pkl'])
    const beforeLoad = join(dir, 'restored-before-load')
    await engine.restore({ bucket: 'kale/linear', seq: run.steps[0].snapshots!.before!.seq, dest: beforeLoad })
    assert.deepEqual(await readdir(beforeLoad), [])
  })

  it('snapshots parallel branches without losing or mixing up versions', async () => {
    const pipeline = await loadPipeline(join(EXAMPLES, 'fanout.ipynb'), { python: PYTHON })
    const run = await runPipeline(pipeline, { python: PYTHON, kaleHome: kaleHome(), params: { delay: 0.3 }, snapshots: stepSnapshots(engine, pipeline.name) })
    assert.equal(run.status, 'succeeded')
    const after = Object.fromEntries(run.steps.map(s => [s.name, s.snapshots!.after!.seq]))
    const before = Object.fromEntries(run.steps.map(s => [s.name, s.snapshots!.before!.seq]))
    // Each step's "before" comes after everything it depends on was saved.
    assert.ok(before.join >= Math.max(after.left, after.right))
    assert.ok(before.left >= after.source && before.right >= after.source)
    const dest = join(dir, 'restored-join')
    await engine.restore({ bucket: 'kale/fanout', seq: before.join, dest })
    assert.deepEqual((await readdir(dest)).sort(), ['left', 'right', 'source'])
  })

  it('--from restores the earlier run from Rok, even after its local folder is deleted', async () => {
    const pipeline = await loadPipeline(join(EXAMPLES, 'linear.ipynb'), { python: PYTHON })
    const snapshots = stepSnapshots(engine, pipeline.name)
    const first = await runPipeline(pipeline, { python: PYTHON, kaleHome: kaleHome(), params: { n: 4, scale: 1 }, snapshots })
    await rm(runPaths(kaleHome(), first.id).data, { recursive: true })
    const second = await runPipeline(pipeline, { python: PYTHON, kaleHome: kaleHome(), params: { n: 4, scale: 10 }, snapshots, from: { run: first.id, step: 'square' } })
    assert.equal(second.status, 'succeeded')
    assert.equal(second.steps[0].status, 'reused')
    assert.deepEqual(second.from?.restored, first.steps.at(-1)!.snapshots!.after)
    assert.deepEqual(second.metrics, { total: 300 })
  })
})

describe('step snapshots in the background', () => {
  let engine: Engine
  const kaleHome = () => join(dir, 'kale-bg')
  before(async () => { engine = await openEngine({ home: join(dir, 'rok-bg'), create: true }) })
  after(async () => { await engine.close() })

  it('snapshots a step while the next one runs, holding only finished steps, and reads only new values', async () => {
    // a saves 4 MiB; b runs for a while (its snapshot-to-be must not see its values
    // early); c comes long enough after a that a's file is settled for reuse.
    const nb = await writeNotebook(dir, 'bg.ipynb', [
      { tags: ['imports'], code: 'import os, time' },
      { tags: ['step:a'], code: 'blob = os.urandom(4 << 20)' },
      { tags: ['step:b', 'prev:a'], code: 'time.sleep(1.5)\nsize = len(blob)' },
      { tags: ['step:c', 'prev:b'], code: 'print(size)' }
    ])
    const pipeline = await loadPipeline(nb, { python: PYTHON })
    const taken: Array<{ message: string, start: number, end: number, reusedBytes: number }> = []
    const timed = {
      snapshot: async (path: string, o: { bucket: string, message?: string, signal?: AbortSignal }) => {
        const start = performance.now()
        const out = await engine.snapshot(path, o)
        taken.push({ message: o.message ?? '', start, end: performance.now(), reusedBytes: out.reusedBytes })
        return out
      },
      restore: engine.restore.bind(engine)
    }
    const ends = new Map<string, number>()
    const run = await runPipeline(pipeline, {
      python: PYTHON, kaleHome: kaleHome(), params: {}, snapshots: stepSnapshots(timed, pipeline.name),
      onEvent: e => { if (e.type === 'step:end') ends.set(e.step, performance.now()) }
    })
    assert.equal(run.status, 'succeeded')
    const afterA = taken.find(t => t.message.endsWith('after step a'))!
    assert.ok(afterA.end < ends.get('b')!, 'the snapshot after a finished while b was still running')
    const restored = join(dir, 'bg-after-a')
    await engine.restore({ bucket: 'kale/bg', seq: run.steps[0].snapshots!.after!.seq, dest: restored })
    assert.deepEqual(await readdir(restored), ['a'])
    const afterC = taken.find(t => t.message.endsWith('after step c'))!
    assert.ok(afterC.reusedBytes >= 4 << 20, `a's saved value reused, not read again (${afterC.reusedBytes} bytes reused)`)
    assert.deepEqual(run.steps.map(s => [s.snapshots?.before?.seq, s.snapshots?.after?.seq]), [[1, 2], [2, 3], [3, 4]])
  })

  it('a failed snapshot fails the run: the step says why and nothing new starts', async () => {
    const pipeline = await loadPipeline(join(EXAMPLES, 'linear.ipynb'), { python: PYTHON })
    let calls = 0
    const failing = {
      snapshot: async (path: string, o: { bucket: string, message?: string, signal?: AbortSignal }) => {
        if (++calls === 2) throw new Error('disk full')
        return await engine.snapshot(path, o)
      },
      restore: engine.restore.bind(engine)
    }
    const run = await runPipeline(pipeline, { python: PYTHON, kaleHome: kaleHome(), params: { n: 3, scale: 1 }, snapshots: stepSnapshots(failing, pipeline.name) })
    assert.equal(run.status, 'failed')
    assert.equal(run.steps[0].status, 'failed')
    assert.match(run.steps[0].error!.message, /step 'load': snapshot of .* into kale\/linear failed: disk full/)
    assert.ok(run.steps.slice(1).some(s => s.status === 'skipped'), JSON.stringify(run.steps.map(s => s.status)))
  })
})

describe('kale run --snapshot from the CLI', () => {
  it('snapshots by default when the Rok home exists, and not with --no-snapshot', async () => {
    const env = { KALE_HOME: join(dir, 'cli-kale') }
    const home = join(dir, 'cli-rok')
    const engine = await openEngine({ home, create: true })
    await engine.close()
    const on = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--home', home, '--json'], env)
    assert.equal(on.code, 0, on.stderr)
    const run = JSON.parse(on.stdout)
    assert.equal(run.snapshotBucket, 'kale/linear')
    assert.match(on.stderr, /\[load\] snapshot before: kale\/linear@1/)
    assert.deepEqual(run.steps.map((s: any) => s.snapshots.after.seq), [2, 3, 4, 5])
    const shown = await kale(['show', run.id], env)
    assert.match(shown.stdout, /load\s+succeeded .* before kale\/linear@1, after @2/)
    const again = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--home', home, '--from', 'total', '--run', run.id], env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /\[load\] reused from run /)
    const againId = /run (\S+) of pipeline/.exec(again.stdout)![1]
    const shownAgain = await kale(['show', againId], env)
    assert.match(shownAgain.stdout, new RegExp(`re-run from step 'total' of run ${run.id}, restored from kale/linear@5`))
    const off = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--home', home, '--no-snapshot', '--json'], env)
    assert.equal(JSON.parse(off.stdout).snapshotBucket, undefined)
  })

  it('--snapshot without a Rok home is an error that says where it looked', async () => {
    const res = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--home', join(dir, 'missing-rok'), '--snapshot', '--json'], { KALE_HOME: join(dir, 'k2') })
    assert.equal(res.code, 1)
    assert.equal(JSON.parse(res.stdout).error.code, 'ERR_KALE_SNAPSHOT')
    assert.match(res.stderr, /--snapshot: cannot open the Rok snapshot engine at .*missing-rok/)
  })
})
