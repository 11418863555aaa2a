/**
 * `kale run` for real: every step a python3 process, dependency order, parallel
 * branches, marshalled values, metrics, tracebacks mapped to the notebook, run records,
 * and re-running from a step while reusing earlier steps' saved values.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { KaleErrorCode } from '../../kale/errors.ts'
import { loadPipeline } from '../../kale/load.ts'
import { loadRun, type RunRecord } from '../../kale/runner/records.ts'
import { runPipeline, type RunEvent } from '../../kale/runner/run.ts'
import { EXAMPLES, PYTHON, ROOT, kale, skipUnless, tempDir, writeNotebook, stepOutput } from './helpers.ts'

let home: string
let cleanup: () => Promise<void>
before(async () => { [home, cleanup] = await tempDir() })
after(async () => { await cleanup() })

async function run (path: string, params: Record<string, string | number | boolean> = {}, from?: { run: string, step: string }): Promise<{ record: RunRecord, events: RunEvent[] }> {
  const pipeline = await loadPipeline(path, { python: PYTHON })
  const events: RunEvent[] = []
  const defaults = Object.fromEntries(pipeline.parameters.map(p => [p.name, p.value]))
  const record = await runPipeline(pipeline, { python: PYTHON, kaleHome: home, params: { ...defaults, ...params }, from, onEvent: e => events.push(e) })
  return { record, events }
}

const output = (events: RunEvent[], step: string): string[] => stepOutput(events, step, 'any')

describe('kale run', () => {
  it('runs a linear pipeline in order, passes values between processes and records the metric', async () => {
    const { record, events } = await run(join(EXAMPLES, 'linear.ipynb'), { n: 3 })
    assert.equal(record.status, 'succeeded')
    const starts = events.filter(e => e.type === 'step:start').map(e => (e as { step: string }).step)
    assert.deepEqual(starts, ['load', 'square', 'total', 'pipeline_metrics'])
    assert.deepEqual(output(events, 'square'), ['squares [2.0, 8.0, 18.0]'])
    assert.deepEqual(record.metrics, { total: 28 })
    const saved = await loadRun(home, record.id)
    assert.deepEqual(saved.steps.map(s => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded'])
    assert.ok(saved.steps.every(s => typeof s.durationMs === 'number'))
    // Steps run the interpreter's real executable, not a version-manager shim.
    assert.equal(saved.python, execFileSync(PYTHON, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim())
  })

  it('runs independent branches at the same time and joins them', async () => {
    const { record, events } = await run(join(EXAMPLES, 'fanout.ipynb'), { delay: 1.5 })
    assert.equal(record.status, 'succeeded')
    const span = (step: string): [number, number] => {
      const [, a, b] = output(events, step)[0].split(' ')
      return [Number(a), Number(b)]
    }
    const [l0, l1] = span('left')
    const [r0, r1] = span('right')
    assert.ok(l0 < r1 && r0 < l1, `left ${l0}–${l1} and right ${r0}–${r1} should overlap`)
    assert.deepEqual(record.metrics, { combined: 31 })
  })

  it('skips skip cells, re-creates a functions-cell class in later steps and runs block: continuations', async () => {
    const { record, events } = await run(join(EXAMPLES, 'features.ipynb'))
    assert.equal(record.status, 'succeeded')
    const all = events.filter(e => e.type === 'step:output').map(e => (e as { line: string }).line).join('\n')
    assert.doesNotMatch(all, /exploration only/)
    assert.deepEqual(JSON.parse(output(events, 'report')[0]), { frequent: ['cat', 'the'], total: 8 })
    assert.deepEqual(record.metrics, { distinct: 5, total_words: 8 })
  })

  it('uses .npy, pandas and joblib for numpy arrays, data frames and scikit-learn models', { skip: skipUnless('numpy', 'pandas', 'sklearn', 'joblib') }, async () => {
    const { record } = await run(join(EXAMPLES, 'scientific.ipynb'))
    assert.equal(record.status, 'succeeded')
    const dir = join(home, 'runs', record.id, 'data')
    assert.deepEqual((await readdir(join(dir, 'make_data'))).sort(), ['frame.pdpkl', 'x.npy'])
    assert.deepEqual(await readdir(join(dir, 'fit')), ['model.joblib'])
    assert.ok(Math.abs(record.metrics.slope - 3) < 1e-9)
    assert.ok(Math.abs(record.metrics.r2 - 1) < 1e-9)
  })

  it('shows a failing step’s traceback at the notebook cell and line, and skips what depends on it', async () => {
    const [dir, done] = await tempDir()
    try {
      const nb = await writeNotebook(dir, 'fails.ipynb', [
        { tags: ['step:a'], code: 'x = 1' },
        { tags: ['step:b', 'prev:a'], code: 'def divide(v):\n    return v / 0\n' },
        { code: 'print("before")\ny = divide(x)' },
        { tags: ['step:c', 'prev:b'], code: 'print(y)' }
      ])
      const { record, events } = await run(nb)
      assert.equal(record.status, 'failed')
      assert.deepEqual(record.steps.map(s => s.status), ['succeeded', 'failed', 'skipped'])
      const b = record.steps[1]
      assert.equal(b.error?.cell, 2)
      assert.equal(b.error?.line, 2)
      assert.match(b.error!.message, /step 'b' failed at fails\.ipynb, cell 2, line 2: ZeroDivisionError: division by zero/)
      const lines = output(events, 'b')
      assert.ok(lines.includes('  File "fails.ipynb", cell 3, line 2, in <module>'), lines.join('\n'))
      assert.ok(lines.includes('  File "fails.ipynb", cell 2, line 2, in divide'), lines.join('\n'))
    } finally { await done() }
  })

  it('an interrupted run stops its running steps, says so, and starts nothing more', async () => {
    const pipeline = await loadPipeline(join(EXAMPLES, 'fanout.ipynb'), { python: PYTHON })
    const controller = new AbortController()
    const record = await runPipeline(pipeline, {
      python: PYTHON,
      kaleHome: home,
      params: { delay: 30 },
      signal: controller.signal,
      onEvent: e => { if (e.type === 'step:start' && e.step === 'left') setTimeout(() => controller.abort(), 500) }
    })
    assert.equal(record.status, 'failed')
    const by = Object.fromEntries(record.steps.map(s => [s.name, s]))
    assert.equal(by.source.status, 'succeeded')
    assert.equal(by.left.error?.message, "step 'left' was interrupted")
    assert.equal(by.join.status, 'skipped')
    assert.ok(by.left.durationMs! < 20_000)
  })

  it('stops a step that exceeds --timeout and says so', async () => {
    const res = await kale(['run', join(EXAMPLES, 'fanout.ipynb'), '--param', 'delay=30', '--timeout', '3', '--json', '--home', join(home, 'no-rok')], { KALE_HOME: home })
    assert.equal(res.code, 1)
    const record = JSON.parse(res.stdout) as RunRecord
    const left = record.steps.find(s => s.name === 'left')!
    assert.equal(left.error?.message, "step 'left' was stopped after its time limit of 3 s")
    assert.ok(left.durationMs! < 20_000)
  })

  it('names the variable and the step when a value cannot be passed on', async () => {
    const [dir, done] = await tempDir()
    try {
      const nb = await writeNotebook(dir, 'lock.ipynb', [
        { tags: ['imports'], code: 'import threading' },
        { tags: ['step:a'], code: 'guard = threading.Lock()' },
        { tags: ['step:b', 'prev:a'], code: 'print(guard)' }
      ])
      const { record } = await run(nb)
      assert.match(record.steps[0].error!.message, /cannot pass 'guard' from step 'a' to later steps: TypeError: cannot pickle '_thread.lock' object/)
    } finally { await done() }
  })

  it('re-runs from a step: earlier steps are reused, not run again, and the edited step sees their values', async () => {
    const [dir, done] = await tempDir()
    try {
      const cells = (factor: number) => [
        { tags: ['imports'], code: 'import os' },
        { tags: ['step:expensive'], code: `with open(${JSON.stringify(join(dir, 'runs.log'))}, 'a') as f:\n    f.write('expensive\\n')\nbase = [1, 2, 3]` },
        { tags: ['step:side'], code: 'other = 5' },
        { tags: ['step:scale', 'prev:expensive'], code: `scaled = [v * ${factor} for v in base]` },
        { tags: ['step:report', 'prev:scale', 'prev:side'], code: 'result = sum(scaled) + other\nprint("result", result)' }
      ]
      const nb = await writeNotebook(dir, 'rerun.ipynb', cells(2))
      const first = await run(nb)
      assert.equal(first.record.status, 'succeeded')
      assert.deepEqual(output(first.events, 'report'), ['result 17'])
      await writeNotebook(dir, 'rerun.ipynb', cells(10))
      const second = await run(nb, {}, { run: first.record.id, step: 'scale' })
      assert.equal(second.record.status, 'succeeded')
      assert.deepEqual(Object.fromEntries(second.record.steps.map(s => [s.name, s.status])),
        { expensive: 'reused', side: 'reused', scale: 'succeeded', report: 'succeeded' })
      assert.deepEqual(output(second.events, 'report'), ['result 65'])
      assert.equal(await readFile(join(dir, 'runs.log'), 'utf8'), 'expensive\n')
      assert.deepEqual(second.record.from, { run: first.record.id, step: 'scale' })
    } finally { await done() }
  })

  it('re-runs an earlier step too when the edited step now reads a value that step did not save', async () => {
    const [dir, done] = await tempDir()
    try {
      const cells = (use: string) => [
        { tags: ['step:first'], code: 'a = 1\nb = 2' },
        { tags: ['step:second', 'prev:first'], code: `c = ${use} * 10` },
        { tags: ['step:third', 'prev:second'], code: 'print("c", c)' }
      ]
      const nb = await writeNotebook(dir, 'widen.ipynb', cells('a'))
      const first = await run(nb)
      assert.deepEqual(first.record.steps[0].outputs, ['a'])
      await writeNotebook(dir, 'widen.ipynb', cells('(a + b)'))
      const second = await run(nb, {}, { run: first.record.id, step: 'second' })
      assert.deepEqual(second.record.steps.map(s => s.status), ['succeeded', 'succeeded', 'succeeded'])
      assert.deepEqual(output(second.events, 'third'), ['c 30'])
    } finally { await done() }
  })

  it('refuses --from with a step the pipeline does not have, or a run that does not exist', async () => {
    const first = await run(join(EXAMPLES, 'linear.ipynb'))
    await assert.rejects(run(join(EXAMPLES, 'linear.ipynb'), {}, { run: first.record.id, step: 'nope' }), { code: KaleErrorCode.UNKNOWN_STEP })
    await assert.rejects(run(join(EXAMPLES, 'linear.ipynb'), {}, { run: '20200101-000000-abcdef', step: 'load' }), { code: KaleErrorCode.RUN_NOT_FOUND })
  })

  it('runs an SDK module: steps from the decorated functions, parameters from the pipeline signature', async () => {
    const { record, events } = await run(join(EXAMPLES, 'sdk_pipeline.py'), { n: 4, scale: 2 })
    assert.equal(record.status, 'succeeded')
    assert.deepEqual(record.steps.map(s => s.name).sort(), ['generate', 'mean', 'spread', 'summarize'])
    assert.deepEqual(output(events, 'generate'), ['generated 4 values'])
    // values 100, 101, 104, 109: mean 103.5, spread 9, times scale 2
    assert.deepEqual(output(events, 'summarize'), ['summary Summary(mean=207.0, spread=18.0)'])
  })
})

describe('kale CLI', () => {
  it('kale run reuses the analysis of an unchanged notebook and analyses an edited one again', async () => {
    const [dir, done] = await tempDir()
    try {
      const env = { KALE_HOME: join(dir, 'kale') }
      const cache = join(dir, 'kale', 'cache')
      const cells = (n: number) => [{ tags: ['step:a'], code: `x = ${n}` }, { tags: ['step:b', 'prev:a'], code: 'print("x", x)' }]
      const nb = await writeNotebook(dir, 'same.ipynb', cells(1))
      const first = await kale(['run', nb, '--no-snapshot'], env)
      assert.equal(first.code, 0, first.stderr)
      const [entry] = await readdir(cache)
      const written = await stat(join(cache, entry))
      const again = await kale(['run', nb, '--no-snapshot'], env)
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, /\[b\] x 1/)
      assert.deepEqual(await readdir(cache), [entry])
      const reused = await stat(join(cache, entry))
      assert.equal(reused.ino, written.ino, 'the cached reply was read, not written again')
      await writeNotebook(dir, 'same.ipynb', cells(2))
      const edited = await kale(['run', nb, '--no-snapshot'], env)
      assert.match(edited.stdout, /\[b\] x 2/)
      assert.equal((await readdir(cache)).length, 2)
    } finally { await done() }
  })

  it('kale run streams step output, exits 1 on failure and tells how to re-run from the failed step', async () => {
    const [dir, done] = await tempDir()
    try {
      const nb = await writeNotebook(dir, 'oops.ipynb', [
        { tags: ['step:a'], code: 'print("hello from a")\nx = 1' },
        { tags: ['step:b', 'prev:a'], code: 'raise ValueError("bad value %d" % x)' }
      ])
      const res = await kale(['run', nb, '--home', join(dir, 'no-rok')], { KALE_HOME: join(dir, 'kh') })
      assert.equal(res.code, 1)
      assert.match(res.stdout, /\[a\] hello from a/)
      assert.match(res.stdout, /\[b\]   File "oops\.ipynb", cell 2, line 1, in <module>/)
      assert.match(res.stderr, /step 'b' failed at oops\.ipynb, cell 2, line 1: ValueError: bad value 1 \[ERR_KALE_STEP_FAILED\]/)
      assert.match(res.stderr, /--from b --run \d{8}-\d{6}-[0-9a-f]{6}/)
    } finally { await done() }
  })

  it('kale runs and kale show list runs and steps as text and JSON', async () => {
    const [dir, done] = await tempDir()
    try {
      const env = { KALE_HOME: join(dir, 'kh') }
      const ran = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--json', '--param', 'n=2', '--home', join(dir, 'no-rok')], env)
      assert.equal(ran.code, 0, ran.stderr)
      const record = JSON.parse(ran.stdout) as RunRecord
      assert.deepEqual(record.metrics, { total: 10 })
      const runs = await kale(['runs', '--json'], env)
      assert.deepEqual((JSON.parse(runs.stdout) as Array<{ id: string }>).map(r => r.id), [record.id])
      const shown = await kale(['show', record.id], env)
      assert.match(shown.stdout, new RegExp(`run ${record.id}: pipeline 'linear' succeeded`))
      assert.match(shown.stdout, /metric total = 10/)
      const missing = await kale(['show', '20200101-000000-abcdef', '--json'], env)
      assert.equal(missing.code, 1)
      assert.equal(JSON.parse(missing.stdout).error.code, KaleErrorCode.RUN_NOT_FOUND)
    } finally { await done() }
  })

  it('kale run rejects an unknown or mistyped --param', async () => {
    const bad = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--param', 'n=many', '--json'], { KALE_HOME: '/nonexistent-kale-home' })
    assert.equal(bad.code, 1)
    assert.equal(JSON.parse(bad.stdout).error.code, KaleErrorCode.BAD_PARAM)
    assert.match(bad.stderr, /parameter 'n' is an int; 'many' is not/)
  })

  it('npm install links `kale` into node_modules/.bin, so `npx kale` runs the CLI', () => {
    const out = execFileSync(join(ROOT, 'node_modules/.bin/kale'), ['--help'], { encoding: 'utf8' })
    assert.match(out, /^kale — turn a tagged notebook/)
  })

  it('every kale command has --help', async () => {
    for (const cmd of ['run', 'runs', 'show', 'compile', 'submit']) {
      const res = await kale([cmd, '--help'])
      assert.equal(res.code, 0)
      assert.match(res.stdout, new RegExp(`Usage: kale ${cmd}`))
      assert.match(res.stdout, /--json/)
    }
  })
})
