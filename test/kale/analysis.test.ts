/**
 * Dependency analysis with the real Python helper: which values each step loads and
 * saves, and compile errors that point at the notebook cell and line.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { analyzePipeline } from '../../kale/analysis.ts'
import { notebook } from '../../kale/examples/build.ts'
import { KaleErrorCode } from '../../kale/errors.ts'
import type { Pipeline } from '../../kale/model.ts'
import { parseNotebook } from '../../kale/notebook/parse.ts'
import { PYTHON, type CellDef } from './helpers.ts'

async function analyze (cells: CellDef[]): Promise<Pipeline> {
  return await analyzePipeline(parseNotebook(notebook(cells), { source: 'nb.ipynb' }), { python: PYTHON })
}

const step = (p: Pipeline, name: string) => p.steps.find(s => s.name === name)!
const inputs = (p: Pipeline, name: string) => step(p, name).inputs.map(i => `${i.name}<-${i.from}`).sort()

async function rejects (cells: CellDef[], code: string, pattern: RegExp, where?: { cell: number, line: number }): Promise<void> {
  await assert.rejects(analyze(cells), (err: any) => {
    assert.equal(err.code, code)
    assert.match(err.message, pattern)
    if (where !== undefined) {
      assert.equal(err.details.cell, where.cell)
      assert.equal(err.details.line, where.line)
    }
    return true
  })
}

describe('what each step loads and saves', () => {
  it('follows assignments, tuple unpacking, augmented assignment, imports, defs and comprehensions', async () => {
    const p = await analyze([
      { tags: ['step:a'], code: 'a, (b, c) = 1, (2, 3)\nimport json as j\ndef f(x):\n    return x + 1\nclass K:\n    pass\nn = 4' },
      { tags: ['step:b', 'prev:a'], code: 'a += 1\nsquares = [f(i) for i in range(n) if i != b]\nk = K()\ntext = j.dumps(c)' },
      { tags: ['step:c', 'prev:b'], code: 'print(a, squares, k, text)' }
    ])
    assert.deepEqual(inputs(p, 'b'), ['K<-a', 'a<-a', 'b<-a', 'c<-a', 'f<-a', 'j<-a', 'n<-a'])
    assert.deepEqual(inputs(p, 'c'), ['a<-b', 'k<-b', 'squares<-b', 'text<-b'])
    assert.deepEqual(step(p, 'a').outputs.sort(), ['K', 'a', 'b', 'c', 'f', 'j', 'n'])
  })

  it('knows the names bound by except-as, with-as, walrus, match patterns and decorated defs', async () => {
    const p = await analyze([
      { tags: ['imports'], code: 'import functools' },
      { tags: ['step:z'], code: 'seed = 0' },
      {
        tags: ['step:a', 'prev:z'],
        code: [
          'try:\n    v = int("x")\nexcept ValueError as err:\n    print(err)',
          'with open(__file__) as fh:\n    text = fh.read(1)',
          'if (k := 3) > 2:\n    print(k)',
          'match [1, 2]:\n    case [first, *others]:\n        print(first, others)\n    case {"key": val, **rest}:\n        print(val, rest)',
          '@functools.lru_cache\ndef cached():\n    return seed'
        ].join('\n')
      },
      { tags: ['step:b', 'prev:a'], code: 'print(cached(), text, k)' }
    ])
    assert.deepEqual(inputs(p, 'a'), ['seed<-z'])
    assert.deepEqual(inputs(p, 'b'), ['cached<-a', 'k<-a', 'text<-a'])
  })

  it('takes a mutated object from the step that mutated it (df["x"] = …, model.fit(…))', async () => {
    const p = await analyze([
      { tags: ['step:make'], code: 'df = {"a": 1}\nmodel = []' },
      { tags: ['step:edit', 'prev:make'], code: 'df["b"] = 2\nmodel.append(df)' },
      { tags: ['step:use', 'prev:edit'], code: 'print(df, model)' }
    ])
    assert.deepEqual(inputs(p, 'use'), ['df<-edit', 'model<-edit'])
    assert.deepEqual(inputs(p, 'edit'), ['df<-make', 'model<-make'])
  })

  it('treats a global assigned inside a function as defined by that step', async () => {
    const p = await analyze([
      { tags: ['step:a'], code: 'def setup():\n    global config\n    config = {"k": 1}\nsetup()' },
      { tags: ['step:b', 'prev:a'], code: 'print(config)' }
    ])
    assert.deepEqual(inputs(p, 'b'), ['config<-a'])
  })

  it('never marshals imports, functions-cell names or parameters', async () => {
    const p = await analyze([
      { tags: ['imports'], code: 'import math' },
      { tags: ['functions'], code: 'def double(x):\n    return 2 * x' },
      { tags: ['pipeline-parameters'], code: 'rate = 0.5\nname = "run"\nflag = True\ncount = -3' },
      { tags: ['step:a'], code: 'v = double(math.pi) * rate' },
      { tags: ['step:b', 'prev:a'], code: 'print(v, name, count)' }
    ])
    assert.deepEqual(inputs(p, 'a'), [])
    assert.deepEqual(step(p, 'a').parameters, ['rate'])
    assert.deepEqual(step(p, 'b').parameters, ['name', 'count'])
    assert.deepEqual(p.parameters, [
      { name: 'rate', type: 'float', value: 0.5 }, { name: 'name', type: 'str', value: 'run' },
      { name: 'flag', type: 'bool', value: true }, { name: 'count', type: 'int', value: -3 }
    ])
  })

  it('loads from the nearest ancestor when several define the name', async () => {
    const p = await analyze([
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['step:b', 'prev:a'], code: 'x = x + 1' },
      { tags: ['step:c', 'prev:b'], code: 'print(x)' }
    ])
    assert.deepEqual(inputs(p, 'c'), ['x<-b'])
  })

  it('adds a metrics step that loads the printed metrics', async () => {
    const p = await analyze([
      { tags: ['step:a'], code: 'acc = 0.9' },
      { tags: ['step:b'], code: 'loss = 0.1' },
      { tags: ['pipeline-metrics'], code: 'print(acc)\nprint(loss)' }
    ])
    const m = step(p, 'pipeline_metrics')
    assert.deepEqual(m.prev.sort(), ['a', 'b'])
    assert.deepEqual(m.metrics, ['acc', 'loss'])
    assert.deepEqual(inputs(p, 'pipeline_metrics'), ['acc<-a', 'loss<-b'])
  })
})

describe('compile errors point at the cell and line', () => {
  it('a name read before any step defines it', async () => {
    await rejects([
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['step:b', 'prev:a'], code: 'y = x\nz = missing + 1' }
    ], KaleErrorCode.UNDEFINED_NAME, /nb\.ipynb, cell 2, line 2: step 'b' reads 'missing' before any step it depends on defines it/, { cell: 2, line: 2 })
  })

  it('a name defined only by a step that is not an ancestor, with the prev: fix', async () => {
    await rejects([
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['step:b'], code: 'print(x)' }
    ], KaleErrorCode.UNDEFINED_NAME, /add the tag prev:a to step 'b'/, { cell: 2, line: 1 })
  })

  it('a name two independent branches both define', async () => {
    await rejects([
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['step:b'], code: 'x = 2' },
      { tags: ['step:c', 'prev:a', 'prev:b'], code: 'print(x)' }
    ], KaleErrorCode.AMBIGUOUS_NAME, /steps 'a' and 'b' both define independently/, { cell: 3, line: 1 })
  })

  it('a syntax error', async () => {
    await rejects([
      { tags: ['step:a'], code: 'x = 1' },
      { code: 'y = 2\nif x\n    pass' }
    ], KaleErrorCode.SYNTAX, /cell 2, line 2: invalid Python/, { cell: 2, line: 2 })
  })

  it('a parameters cell with something other than literals, and a metrics cell with something other than print(name)', async () => {
    await rejects([
      { tags: ['pipeline-parameters'], code: 'a = 1\nb = a * 2' },
      { tags: ['step:s'], code: 'print(a)' }
    ], KaleErrorCode.INVALID_PARAMETER, /cell 1, line 2: a pipeline-parameters cell may only hold assignments/, { cell: 1, line: 2 })
    await rejects([
      { tags: ['step:s'], code: 'acc = 1' },
      { tags: ['pipeline-metrics'], code: 'print(acc)\nprint(acc * 2)' }
    ], KaleErrorCode.INVALID_METRIC, /cell 2, line 2/, { cell: 2, line: 2 })
  })

  it('magics are dropped with a warning rather than failing the parse', async () => {
    const p = await analyze([
      { tags: ['imports'], code: '%matplotlib inline\nimport os' },
      { tags: ['step:a'], code: '!ls\nx = os.sep' }
    ])
    assert.deepEqual(p.warnings.map(w => [w.cell, w.line]), [[1, 1], [2, 1]])
  })
})
