/**
 * Linear chains: a step whose every input comes from the one step before it is forked
 * from that step's process once the step's own code has run, inheriting the values it
 * reads, while the step before saves them. It must still behave as a separate process
 * that loaded its inputs: it sees only those names, a failing save fails the step before
 * (and the forked step does not count), and every value is on disk for a re-run.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadPipeline } from '../../kale/load.ts'
import type { RunRecord } from '../../kale/runner/records.ts'
import { chainSuccessors, runPipeline, type RunEvent, type RunOptions } from '../../kale/runner/run.ts'
import { PYTHON, tempDir, writeNotebook, type CellDef, stepOutput } from './helpers.ts'

let dir: string
let cleanup: () => Promise<void>
before(async () => { [dir, cleanup] = await tempDir() })
after(async () => { await cleanup() })

async function run (nb: string, o: Partial<RunOptions> = {}): Promise<{ record: RunRecord, events: RunEvent[] }> {
  const pipeline = await loadPipeline(nb, { python: PYTHON })
  const events: RunEvent[] = []
  const record = await runPipeline(pipeline, { python: PYTHON, kaleHome: join(dir, 'kale'), params: {}, onEvent: e => events.push(e), ...o })
  return { record, events }
}

const notebookOf = async (cells: CellDef[]): Promise<string> => await writeNotebook(dir, `nb-${Math.random().toString(36).slice(2)}.ipynb`, cells)

const output = stepOutput

describe('steps forked from the step before them', () => {
  it('a linear chain forks each step from the one before; a step loading from two steps does not', async () => {
    const nb = await notebookOf([
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['step:b', 'prev:a'], code: 'y = x + 1' },
      { tags: ['step:c', 'prev:b'], code: 'z = y + 1' },
      { tags: ['step:d', 'prev:c'], code: 'print(x + z)' },
      { tags: ['step:e', 'prev:c'], code: 'print(z)' }
    ])
    const pipeline = await loadPipeline(nb, { python: PYTHON })
    assert.deepEqual([...chainSuccessors(pipeline, new Set())], [['a', 'b'], ['b', 'c'], ['c', 'e']])
    assert.deepEqual([...chainSuccessors(pipeline, new Set(['a']))], [['b', 'c'], ['c', 'e']])
  })

  it('a forked step is a child of the step before, sees exactly its inputs, and not the step before’s exit handlers or environment', async () => {
    const nb = await notebookOf([
      { tags: ['imports'], code: 'import atexit, os, sys, time' },
      // The step before stays alive after its code (an exit handler) so its child's parent is still it.
      { tags: ['step:a'], code: 'x = [1, 2]\ny = "not read"\napid = os.getpid()\nos.environ["KALE_A"] = "1"\natexit.register(time.sleep, 1.0)\nprint("a done")' },
      { tags: ['step:b', 'prev:a'], code: 'x.append(3)\nprint(os.getppid() == apid, x, sorted(k for k in globals() if not k.startswith("_") and k not in ("atexit", "os", "sys", "time", "display")), "KALE_A" in os.environ)\nt0 = time.monotonic()' },
      { tags: ['step:c', 'prev:b'], code: 'print(x, t0 > 0)' }
    ])
    const { record, events } = await run(nb)
    assert.equal(record.status, 'succeeded', JSON.stringify(record.steps.map(s => s.error)))
    assert.deepEqual(output(events, 'b'), ["True [1, 2, 3] ['apid', 'x'] False"])
    assert.deepEqual(output(events, 'c'), ['[1, 2, 3] True'])
    // b's change to the list it inherited stays b's; a saved the list as a left it.
    const again = await run(nb, { from: { run: record.id, step: 'c' } })
    assert.equal(again.record.status, 'succeeded')
    assert.deepEqual(output(again.events, 'c'), ['[1, 2, 3] True'])
    const fromB = await run(nb, { from: { run: record.id, step: 'b' } })
    assert.equal(fromB.record.status, 'succeeded')
    assert.deepEqual(output(fromB.events, 'b'), ["False [1, 2, 3] ['apid', 'x'] False"])
  })

  it('a step that leaves a thread running or rebinds a module’s name hands off nothing: the next step loads from disk', async () => {
    const nb = await notebookOf([
      { tags: ['imports'], code: 'import json, os, threading, time' },
      { tags: ['step:a'], code: 'apid = os.getpid()\nthreading.Thread(target=time.sleep, args=(0.5,)).start()' },
      { tags: ['step:b', 'prev:a'], code: 'print(os.getppid() == apid)\nbpid = os.getpid()\njson.kale_leak = 1' },
      { tags: ['step:c', 'prev:b'], code: 'print(os.getppid() == bpid, hasattr(json, "kale_leak"))' }
    ])
    const { record, events } = await run(nb)
    assert.equal(record.status, 'succeeded', JSON.stringify(record.steps.map(s => s.error)))
    assert.deepEqual(output(events, 'b'), ['False'])
    assert.deepEqual(output(events, 'c'), ['False False'])
  })

  it('a forked step keeps its own exit status and its traceback points at its notebook cell', async () => {
    const nb = await notebookOf([
      { tags: ['imports'], code: 'import os' },
      { tags: ['step:a'], code: 'apid = os.getpid()\nv = 0' },
      { tags: ['step:b', 'prev:a'], code: 'print(os.getppid() == apid)\nw = 1 / v' }
    ])
    const { record, events } = await run(nb)
    const b = record.steps[1]
    assert.equal(record.steps[0].status, 'succeeded')
    assert.equal(b.status, 'failed')
    assert.equal(b.exitCode, 1)
    assert.equal(b.error?.cell, 3)
    assert.equal(b.error?.line, 2)
    assert.match(b.error!.message, /ZeroDivisionError/)
    const err = output(events, 'b', 'stderr')
    assert.equal(err[0], 'Traceback (most recent call last):')
    assert.deepEqual(err.filter(l => l.startsWith('  File ')), [`  File "${record.source.split('/').pop()!}", cell 3, line 2, in <module>`])
  })

  it('a value the step before cannot save fails that step, naming the value, and the forked step does not count', async () => {
    const nb = await notebookOf([
      { tags: ['imports'], code: 'import time' },
      { tags: ['step:a'], code: 'n = 2\ngen = (i for i in range(n))' },
      { tags: ['step:b', 'prev:a'], code: 'print(sum(gen) + n)\ntime.sleep(0.5)' },
      { tags: ['step:c', 'prev:b'], code: 'print("never")' }
    ])
    const { record, events } = await run(nb)
    assert.equal(record.status, 'failed')
    const by = Object.fromEntries(record.steps.map(s => [s.name, s]))
    assert.equal(by.a.status, 'failed')
    assert.match(by.a.error!.message, /cannot pass 'gen' from step 'a' to later steps/)
    assert.equal(by.b.status, 'skipped')
    assert.equal(by.c.status, 'skipped')
    assert.deepEqual(output(events, 'c'), [])
  })

  it('re-running from a middle step of a chained run reuses the saved values of the steps before it', async () => {
    const nb = await notebookOf([
      { tags: ['step:a'], code: 'v = 10' },
      { tags: ['step:b', 'prev:a'], code: 'v = v * 2' },
      { tags: ['step:c', 'prev:b'], code: 'v = v + 1' },
      { tags: ['step:d', 'prev:c'], code: 'print(v)' }
    ])
    const first = await run(nb)
    assert.equal(first.record.status, 'succeeded')
    assert.deepEqual(output(first.events, 'd'), ['21'])
    const again = await run(nb, { from: { run: first.record.id, step: 'c' } })
    assert.equal(again.record.status, 'succeeded')
    assert.deepEqual(again.record.steps.map(s => s.status), ['reused', 'reused', 'succeeded', 'succeeded'])
    assert.deepEqual(output(again.events, 'd'), ['21'])
  })

  it('--fresh-python runs the same chain without forking, with the same results', async () => {
    const nb = await notebookOf([
      { tags: ['imports'], code: 'import os' },
      { tags: ['step:a'], code: 'apid = os.getpid()\nv = 1' },
      { tags: ['step:b', 'prev:a'], code: 'print(os.getppid() == apid, v)' }
    ])
    const { record, events } = await run(nb, { freshPython: true })
    assert.equal(record.status, 'succeeded')
    assert.deepEqual(output(events, 'b'), ['False 1'])
  })
})
