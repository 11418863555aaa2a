/** Reading notebooks: tags, roles, continuation cells and clear errors naming the cell. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { notebook } from '../../kale/examples/build.ts'
import { KaleErrorCode } from '../../kale/errors.ts'
import { dependencyOrder } from '../../kale/graph.ts'
import { dropMagics } from '../../kale/notebook/magics.ts'
import { parseNotebook } from '../../kale/notebook/parse.ts'
import { parseCellTags } from '../../kale/notebook/tags.ts'
import type { CellDef } from './helpers.ts'

const parse = (cells: CellDef[], meta: Record<string, unknown> = {}) => parseNotebook(notebook(cells, meta), { source: 'nb.ipynb' })

function rejects (fn: () => unknown, code: string, pattern: RegExp, cell?: number): void {
  assert.throws(fn, (err: any) => {
    assert.equal(err.code, code)
    assert.match(err.message, pattern)
    if (cell !== undefined) assert.equal(err.details.cell, cell)
    return true
  })
}

describe('notebook tags', () => {
  it('reads step, prev, label, annotation and limit tags', () => {
    const t = parseCellTags(['step:train', 'prev:load', 'prev:clean', 'label:team:vision', 'annotation:owner:Ann Lee', 'limit:nvidia.com/gpu:1'], 3)
    assert.deepEqual(t.role, { kind: 'step', name: 'train' })
    assert.deepEqual(t.prev, ['load', 'clean'])
    assert.deepEqual(t.labels, { team: 'vision' })
    assert.deepEqual(t.annotations, { owner: 'Ann Lee' })
    assert.deepEqual(t.limits, { 'nvidia.com/gpu': '1' })
  })

  it('rejects a step name with capitals or dashes, naming the cell', () => {
    rejects(() => parseCellTags(['step:Train-Model'], 4), KaleErrorCode.INVALID_TAG, /cell 4: tag 'step:Train-Model' has an invalid step name/, 4)
  })

  it('rejects an unknown tag and a cell with two roles', () => {
    rejects(() => parseCellTags(['parameters'], 2), KaleErrorCode.INVALID_TAG, /is not a Kale tag/, 2)
    rejects(() => parseCellTags(['imports', 'step:a'], 5), KaleErrorCode.INVALID_TAG, /second role/, 5)
  })

  it('rejects a limit that is not a Kubernetes quantity', () => {
    rejects(() => parseCellTags(['limit:memory:lots'], 7), KaleErrorCode.INVALID_TAG, /not a Kubernetes quantity/, 7)
  })
})

describe('notebook structure', () => {
  it('groups cells: untagged and block: cells continue, a repeated step name merges, skip cells vanish', () => {
    const spec = parse([
      { markdown: true, code: '# title' },
      { tags: ['imports'], code: 'import os' },
      { code: 'import sys' },
      { tags: ['step:a'], code: 'x = 1' },
      { tags: ['block:'], code: 'x += 1' },
      { code: 'y = x' },
      { tags: ['skip'], code: 'print("never")' },
      { code: 'print("still skipped")' },
      { tags: ['step:b', 'prev:a'], code: 'z = y' },
      { tags: ['step:a'], code: 'w = 2' }
    ])
    assert.deepEqual(spec.prelude.map(c => c.cell), [2, 3])
    assert.deepEqual(spec.steps.map(s => [s.name, s.chunks.map(c => c.cell)]), [['a', [4, 5, 6, 10]], ['b', [9]]])
    assert.equal(spec.steps.flatMap(s => s.chunks).some(c => c.code.includes('skipped')), false)
  })

  it('takes the pipeline name, experiment, image and step defaults from metadata.kubeflow_notebook', () => {
    const spec = parse([{ tags: ['step:a'], code: 'x = 1' }], {
      pipeline_name: 'My Pipeline', experiment_name: 'exp', docker_image: 'img:1',
      steps_defaults: ['label:team:ml', 'limit:cpu:2'],
      volumes: [{ name: 'data-pvc', mount_point: '/data', size: 5, size_type: 'Gi', type: 'pvc' }]
    })
    assert.equal(spec.name, 'my-pipeline')
    assert.equal(spec.experiment, 'exp')
    assert.equal(spec.image, 'img:1')
    assert.deepEqual(spec.steps[0].labels, { team: 'ml' })
    assert.deepEqual(spec.steps[0].limits, { cpu: '2' })
    assert.deepEqual(spec.volumes, [{ name: 'data-pvc', mountPoint: '/data', size: '5Gi' }])
  })

  it('says which cell is untagged when nothing precedes it', () => {
    rejects(() => parse([{ code: 'x = 1' }, { tags: ['step:a'], code: 'y = 2' }]), KaleErrorCode.INVALID_TAG, /cell 1 has no Kale tag/, 1)
  })

  it('refuses a notebook with no steps and a file that is not a notebook', () => {
    rejects(() => parse([{ tags: ['imports'], code: 'import os' }]), KaleErrorCode.NO_STEPS, /no pipeline steps/)
    rejects(() => parseNotebook({ hello: 1 }, { source: 'x.ipynb' }), KaleErrorCode.INVALID_NOTEBOOK, /not a Jupyter notebook/)
  })

  it('reports an unknown prev and a cycle with the step and cell', () => {
    const unknown = parse([{ tags: ['step:a'], code: 'x = 1' }, { tags: ['step:b', 'prev:c'], code: 'y = 1' }])
    rejects(() => dependencyOrder(unknown.steps, 'nb.ipynb'), KaleErrorCode.UNKNOWN_PREV, /cell 2: step 'b' has prev:c, but no step is named 'c'/, 2)
    const cyclic = parse([{ tags: ['step:a', 'prev:c'], code: 'x = 1' }, { tags: ['step:b', 'prev:a'], code: 'y = 1' }, { tags: ['step:c', 'prev:b'], code: 'z = 1' }])
    rejects(() => dependencyOrder(cyclic.steps, 'nb.ipynb'), KaleErrorCode.CYCLE, /cycle: a → c → b → a/)
  })
})

describe('magics', () => {
  it('drops % and ! lines with a warning, keeping line numbers and indented blocks valid', () => {
    const { code, warnings } = dropMagics('%load_ext autoreload\nif True:\n    !pip install x\nx = 1', 6)
    assert.equal(code, '\nif True:\n    pass\nx = 1')
    assert.deepEqual(warnings.map(w => [w.cell, w.line]), [[6, 1], [6, 3]])
  })

  it('drops a whole %%bash cell but keeps the body of %%time', () => {
    assert.equal(dropMagics('%%bash\necho hi', 1).code.trim(), '')
    assert.equal(dropMagics('%%time\nx = 1', 1).code, '\nx = 1')
  })
})
