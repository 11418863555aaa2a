/**
 * The Kale SDK: the standard-library package works as plain Python, SDK modules become
 * pipelines, and mistakes in the module are reported at the module line.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { KaleErrorCode } from '../../kale/errors.ts'
import { loadPipeline } from '../../kale/load.ts'
import { runPipeline } from '../../kale/runner/run.ts'
import { EXAMPLES, PYTHON, ROOT, tempDir } from './helpers.ts'

let dir: string
let cleanup: () => Promise<void>
before(async () => { [dir, cleanup] = await tempDir() })
after(async () => { await cleanup() })

async function module (name: string, source: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, source)
  return path
}

describe('Kale SDK', () => {
  it('an SDK module still runs as plain Python with the SDK package on the path', () => {
    const out = execFileSync(PYTHON, [join(EXAMPLES, 'sdk_pipeline.py')], { env: { ...process.env, PYTHONPATH: join(ROOT, 'kale/sdk') }, encoding: 'utf8' })
    assert.equal(out, 'generated 5 values\nsummary Summary(mean=106.0, spread=16.0)\n')
  })

  it('reads steps, dependencies and parameters from the decorators and the pipeline body', async () => {
    const p = await loadPipeline(join(EXAMPLES, 'sdk_pipeline.py'), { python: PYTHON })
    assert.equal(p.name, 'sdk-stats')
    assert.equal(p.experiment, 'examples')
    assert.deepEqual(p.parameters, [{ name: 'n', type: 'int', value: 5 }, { name: 'scale', type: 'float', value: 1 }])
    const byName = Object.fromEntries(p.steps.map(s => [s.name, s]))
    assert.deepEqual(byName.generate.prev, [])
    assert.deepEqual(byName.mean.prev, ['generate'])
    assert.deepEqual(byName.summarize.prev.sort(), ['mean', 'spread'])
    assert.deepEqual(byName.generate.parameters, ['n'])
    assert.deepEqual(byName.summarize.parameters, ['scale'])
    assert.deepEqual(byName.mean.inputs, [{ name: 'values', from: 'generate' }])
    assert.deepEqual(byName.mean.labels, { stage: 'stats' })
    assert.deepEqual(byName.spread.limits, { cpu: '500m' })
  })

  it('a step called twice becomes two steps, and calls may span lines or share one', async () => {
    const path = await module('calls.py', [
      'from kale.sdk import pipeline, step',
      '@step',
      'def inc(n):',
      '    return n + 1',
      '@step(name="mul")',
      'def mul(x, y):',
      '    return x * y',
      '@pipeline(name="calls")',
      'def calls(n=2):',
      '    x = inc(n); y = inc(',
      '        n + 1,',
      '    )',
      '    z = mul(x,',
      '            y)',
      ''
    ].join('\n'))
    const p = await loadPipeline(path, { python: PYTHON })
    assert.deepEqual(p.steps.map(s => [s.name, s.prev]), [['inc', []], ['inc_2', []], ['mul', ['inc', 'inc_2']]])
    assert.deepEqual(p.steps.map(s => s.chunks[0].code), ['x = inc(n)', 'y = inc(\n        n + 1,\n    )', 'z = mul(x,\n            y)'])
  })

  it('a failing step’s traceback points at the module line', async () => {
    const path = await module('broken.py', [
      'from kale.sdk import pipeline, step',
      '',
      '@step(name="make")',
      'def make():',
      '    return {"a": 1}',
      '',
      '@step(name="use")',
      'def use(d):',
      '    return d["missing"]',
      '',
      '@pipeline(name="broken")',
      'def broken():',
      '    d = make()',
      '    use(d)',
      ''
    ].join('\n'))
    const p = await loadPipeline(path, { python: PYTHON })
    const run = await runPipeline(p, { python: PYTHON, kaleHome: join(dir, 'kh'), params: {} })
    const use = run.steps.find(s => s.name === 'use')!
    assert.equal(use.status, 'failed')
    assert.equal(use.error?.line, 9)
    assert.match(use.error!.traceback, /File "broken\.py", line 14, in <module>\n\s+use\(d\)/)
    assert.match(use.error!.message, /step 'use' failed at broken\.py, line 9: KeyError: 'missing'/)
  })

  it('rejects a module without @pipeline, a pipeline body doing more than calling steps, and a parameter without a literal default', async () => {
    const none = await module('none.py', 'def f():\n    pass\n')
    await assert.rejects(loadPipeline(none, { python: PYTHON }), { code: KaleErrorCode.INVALID_SDK_MODULE, message: /none\.py, line 1: no function decorated with @pipeline/ })
    const busy = await module('busy.py', 'from kale.sdk import pipeline, step\n@step\ndef a():\n    return 1\n@pipeline(name="p")\ndef p():\n    x = a()\n    print(x)\n')
    await assert.rejects(loadPipeline(busy, { python: PYTHON }), { code: KaleErrorCode.INVALID_SDK_MODULE, message: /busy\.py, line 8: the @pipeline body may only call @step functions/ })
    const noDefault = await module('nodefault.py', 'from kale.sdk import pipeline, step\n@step\ndef a(n):\n    return n\n@pipeline(name="p")\ndef p(n):\n    a(n)\n')
    await assert.rejects(loadPipeline(noDefault, { python: PYTHON }), { code: KaleErrorCode.INVALID_PARAMETER, message: /nodefault\.py, line 6: pipeline argument `n` needs a default/ })
  })
})
