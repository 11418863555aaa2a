/**
 * Steps forked from one warm interpreter per run (kale/python/warm.py): each step is
 * still its own process — its own exit status, output, traceback, module state and
 * random numbers — while the imports cell is imported once. `--fresh-python` (a new
 * python3 per step) keeps working and behaves the same.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadPipeline } from '../../kale/load.ts'
import type { RunRecord } from '../../kale/runner/records.ts'
import { runPipeline, type RunEvent } from '../../kale/runner/run.ts'
import { WarmPython } from '../../kale/runner/warm-python.ts'
import { EXAMPLES, PYTHON, kale, skipUnless, tempDir, writeNotebook, type CellDef, stepOutput } from './helpers.ts'

let dir: string
let cleanup: () => Promise<void>
before(async () => { [dir, cleanup] = await tempDir() })
after(async () => { await cleanup() })

async function run (cells: CellDef[], freshPython = false): Promise<{ record: RunRecord, events: RunEvent[] }> {
  const nb = await writeNotebook(dir, `nb-${Math.random().toString(36).slice(2)}.ipynb`, cells)
  const pipeline = await loadPipeline(nb, { python: PYTHON })
  const events: RunEvent[] = []
  const record = await runPipeline(pipeline, { python: PYTHON, kaleHome: join(dir, 'kale'), params: {}, freshPython, onEvent: e => events.push(e) })
  return { record, events }
}

const output = stepOutput

describe('steps forked from a warm interpreter', () => {
  it('forks every step from one interpreter, each its own process, none of them Kale’s child directly', async () => {
    const { record, events } = await run([
      { tags: ['imports'], code: 'import os' },
      { tags: ['step:a'], code: 'print(os.getpid(), os.getppid())' },
      { tags: ['step:b'], code: 'print(os.getpid(), os.getppid())' },
      { tags: ['step:c', 'prev:a', 'prev:b'], code: 'print(os.getpid(), os.getppid())' }
    ])
    assert.equal(record.status, 'succeeded')
    const ids = ['a', 'b', 'c'].map(s => output(events, s)[0].split(' ').map(Number))
    assert.equal(new Set(ids.map(([pid]) => pid)).size, 3, 'three processes')
    assert.equal(new Set(ids.map(([, ppid]) => ppid)).size, 1, 'one parent')
    assert.notEqual(ids[0][1], process.pid)
  })

  it('steps that print and exit at once lose no output, however their exits and streams interleave', async () => {
    const names = Array.from({ length: 16 }, (_, i) => `s${i}`)
    const { record, events } = await run(names.map(n => ({ tags: [`step:${n}`], code: `print("${n} one")\nprint("${n} two")` })))
    assert.equal(record.status, 'succeeded')
    for (const n of names) assert.deepEqual(output(events, n), [`${n} one`, `${n} two`])
  })

  it('a step that exits before its start is reported is still seen to start and end (no hang)', async () => {
    // The interpreter's reaper can see a step exit before its main thread reports the fork.
    const script = join(dir, 'quick.py')
    await writeFile(script, 'import os\nos._exit(0)\n')
    const warm = await WarmPython.start({ python: PYTHON, cwd: dir, env: process.env, prelude: [] })
    try {
      for (let i = 0; i < 100; i++) {
        const step = await Promise.race([
          warm.launch({ script, args: [], cwd: dir }),
          new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error(`launch ${i} never reported its start`)) }, 5000).unref())
        ])
        step.stdout.resume()
        step.stderr.resume()
        assert.deepEqual(await step.done, { code: 0, signal: null })
      }
    } finally {
      await warm.close()
    }
  })

  it('--fresh-python starts each step as python3 itself, a direct child of Kale', async () => {
    const { record, events } = await run([
      { tags: ['imports'], code: 'import os' },
      { tags: ['step:a'], code: 'print(os.getppid())' }
    ], true)
    assert.equal(record.status, 'succeeded')
    assert.deepEqual(output(events, 'a'), [String(process.pid)])
  })

  for (const fresh of [false, true]) {
    const how = fresh ? 'a fresh python3' : 'a forked step'
    it(`${how}: its exit is its own — sys.exit code, a kill by signal, a crash — and a parallel branch finishes`, async () => {
      const { record, events } = await run([
        { tags: ['imports'], code: 'import os, signal, sys, time' },
        { tags: ['step:slow'], code: 'time.sleep(1.0)\nprint("slow done")' },
        { tags: ['step:quits'], code: 'print("bye", flush=True)\nsys.exit(7)' },
        { tags: ['step:after', 'prev:quits'], code: 'print("never")' }
      ], fresh)
      assert.equal(record.status, 'failed')
      const by = Object.fromEntries(record.steps.map(s => [s.name, s]))
      assert.equal(by.quits.exitCode, 7)
      assert.equal(by.quits.status, 'failed')
      assert.deepEqual(output(events, 'quits'), ['bye'])
      assert.equal(by.slow.status, 'succeeded')
      assert.deepEqual(output(events, 'slow'), ['slow done'])
      assert.equal(by.after.status, 'skipped')

      const killed = await run([
        { tags: ['imports'], code: 'import os, signal' },
        { tags: ['step:dies'], code: 'print("going", flush=True)\nos.kill(os.getpid(), signal.SIGKILL)' }
      ], fresh)
      assert.equal(killed.record.steps[0].status, 'failed')
      assert.equal(killed.record.steps[0].exitCode, null)
      assert.deepEqual(output(killed.events, 'dies'), ['going'])
    })

    it(`${how}: an uncaught exception in a functions-cell helper points at the notebook cell and line, without Kale’s frames`, async () => {
      const { record, events } = await run([
        { tags: ['functions'], code: 'def check(v):\n    if v > 1:\n        raise ValueError("too big: %d" % v)\n    return v' },
        { tags: ['step:a'], code: 'x = 1\ny = check(x + 1)' }
      ], fresh)
      const a = record.steps[0]
      assert.equal(a.status, 'failed')
      assert.equal(a.exitCode, 1)
      assert.equal(a.error?.cell, 1)
      assert.equal(a.error?.line, 3)
      assert.match(a.error!.message, /step 'a' failed at nb-\w+\.ipynb, cell 1, line 3: ValueError: too big: 2/)
      const err = output(events, 'a', 'stderr')
      assert.deepEqual(err.filter(l => l.startsWith('  File ')), [
        `  File "${record.source.split('/').pop()!}", cell 2, line 2, in <module>`,
        `  File "${record.source.split('/').pop()!}", cell 1, line 3, in check`
      ])
      assert.equal(err[0], 'Traceback (most recent call last):')
    })
  }

  it('a step changing a module’s state or the process’s does not leak into the next step', async () => {
    const { record, events } = await run([
      { tags: ['imports'], code: 'import json, os, sys' },
      { tags: ['step:a'], code: 'json.leaked = 1\nos.environ["KALE_LEAK"] = "1"\nsys.path.append("/leak")\nos.chdir("/")\nx = 1' },
      { tags: ['step:b', 'prev:a'], code: 'print(hasattr(json, "leaked"), "KALE_LEAK" in os.environ, "/leak" in sys.path, os.getcwd() != "/", x)' }
    ])
    assert.equal(record.status, 'succeeded')
    assert.deepEqual(output(events, 'b'), ['False False False True 1'])
  })

  it('each step draws its own numpy random numbers, as separate python3 runs would', { skip: skipUnless('numpy') }, async () => {
    const { record, events } = await run([
      { tags: ['imports'], code: 'import numpy as np' },
      { tags: ['step:a'], code: 'print(np.random.rand())' },
      { tags: ['step:b', 'prev:a'], code: 'print(np.random.rand())' }
    ])
    assert.equal(record.status, 'succeeded')
    assert.notEqual(output(events, 'a')[0], output(events, 'b')[0])
  })

  it('a numpy array from an earlier step keeps shape, dtype and order, can be changed in place, and its saved file stays as saved', { skip: skipUnless('numpy') }, async () => {
    const { record, events } = await run([
      { tags: ['imports'], code: 'import numpy as np' },
      { tags: ['step:a'], code: 'm = np.arange(12, dtype=np.int32).reshape(3, 4)\nf = np.asfortranarray(np.arange(6.0).reshape(2, 3))\nz = np.zeros((0, 3))\nr = np.array([(1, 2.5)], dtype=[("k", "i4"), ("v", "f8")])' },
      { tags: ['step:b', 'prev:a'], code: 'm += 1\nm[0, 0] = 100\nf[1, 2] = -1\nprint(m.tolist(), m.dtype, f.flags.f_contiguous, f.tolist(), z.shape, r.tolist(), r.dtype.names)' }
    ])
    assert.equal(record.status, 'succeeded', JSON.stringify(record.steps.map(s => s.error)))
    assert.deepEqual(output(events, 'b'), ["[[100, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]] int32 True [[0.0, 1.0, 2.0], [3.0, 4.0, -1.0]] (0, 3) [(1, 2.5)] ('k', 'v')"])
    const saved = join(dir, 'kale', 'runs', record.id, 'data', 'a', 'm.npy')
    assert.equal(execFileSync(PYTHON, ['-c', `import numpy as np; print(np.load(${JSON.stringify(saved)}).tolist())`], { encoding: 'utf8' }).trim(), '[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]')
  })

  it('a failing import in the imports cell fails the step with Python’s own error, at the cell', async () => {
    const { record } = await run([
      { tags: ['imports'], code: 'import os\nimport no_such_module_kale' },
      { tags: ['step:a'], code: 'print(os.getpid())' }
    ])
    const a = record.steps[0]
    assert.equal(a.status, 'failed')
    assert.equal(a.error?.cell, 1)
    assert.equal(a.error?.line, 2)
    assert.match(a.error!.message, /ModuleNotFoundError: No module named 'no_such_module_kale'/)
  })

  for (const fresh of [false, true]) {
    it(`${fresh ? '--fresh-python' : 'forked steps'}: a step named like a module the runtime or a later step imports does not shadow it`, async () => {
      const { record, events } = await run([
        { tags: ['step:json'], code: 'x = {"a": 1}' },
        { tags: ['step:pickle', 'prev:json'], code: 'import json\nprint(json.dumps(x))' }
      ], fresh)
      assert.equal(record.status, 'succeeded', JSON.stringify(record.steps.map(s => s.error)))
      assert.deepEqual(output(events, 'pickle'), ['{"a": 1}'])
    })
  }

  it('kale run --fresh-python runs the example pipeline with the same result', async () => {
    const res = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--fresh-python', '--no-snapshot', '--json'], { KALE_HOME: join(dir, 'cli') })
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual((JSON.parse(res.stdout) as RunRecord).metrics, { total: 110 })
  })
})
