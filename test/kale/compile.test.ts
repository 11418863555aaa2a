/**
 * `kale compile`: KFP v2 IR YAML that is structurally valid (checked strictly by an
 * independent checker), carries the pipeline's dependencies, parameters, metrics,
 * labels, annotations and limits, and whose embedded step code really runs when its
 * placeholders are filled in the way the KFP launcher fills them.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { KaleErrorCode } from '../../kale/errors.ts'
import { compilePipeline, type CompiledPipeline } from '../../kale/kfp/compile.ts'
import { pipelineYaml } from '../../kale/kfp/yaml.ts'
import { loadPipeline } from '../../kale/load.ts'
import { checkPipelineSpec } from './kfp-ir.ts'
import { EXAMPLES, PYTHON, kale, tempDir, writeNotebook } from './helpers.ts'

type Obj = Record<string, any>

async function compileFile (path: string, image?: string): Promise<{ spec: Obj, platform?: Obj, compiled: CompiledPipeline }> {
  const compiled = compilePipeline(await loadPipeline(path, { python: PYTHON }), { image })
  const docs = parseAllDocuments(pipelineYaml(compiled)).map(d => d.toJS() as Obj)
  return { spec: docs[0], platform: docs[1], compiled }
}

describe('kale compile', () => {
  for (const example of ['linear.ipynb', 'fanout.ipynb', 'features.ipynb', 'scientific.ipynb', 'sdk_pipeline.py']) {
    it(`${example} compiles to a structurally valid KFP v2 pipeline`, async () => {
      const { spec, platform } = await compileFile(join(EXAMPLES, example))
      assert.deepEqual(checkPipelineSpec(spec, platform), [])
      assert.equal(spec.schemaVersion, '2.1.0')
    })
  }

  it('the structure check catches broken references (so the test above can fail)', async () => {
    const { spec } = await compileFile(join(EXAMPLES, 'linear.ipynb'))
    const broken = structuredClone(spec)
    delete broken.components['comp-load']
    broken.root.dag.tasks.square.dependentTasks = ['nowhere']
    broken.deploymentSpec.executors['exec-total'].container.extra = 1
    const problems = checkPipelineSpec(broken)
    assert.ok(problems.some(p => p.includes('missing component comp-load')), problems.join('\n'))
    assert.ok(problems.some(p => p.includes('missing task nowhere')), problems.join('\n'))
    assert.ok(problems.some(p => p.includes("unknown key 'extra'")), problems.join('\n'))
  })

  it('wires task dependencies, passes each parameter only to the steps that read it, and exposes metrics', async () => {
    const { spec } = await compileFile(join(EXAMPLES, 'linear.ipynb'))
    const tasks = spec.root.dag.tasks
    assert.deepEqual(Object.keys(tasks), ['load', 'square', 'total', 'pipeline-metrics'])
    assert.deepEqual(tasks.square.dependentTasks, ['load'])
    assert.deepEqual(tasks['pipeline-metrics'].dependentTasks, ['total'])
    assert.deepEqual(spec.root.inputDefinitions.parameters, {
      n: { parameterType: 'NUMBER_INTEGER', defaultValue: 5 },
      scale: { parameterType: 'NUMBER_DOUBLE', defaultValue: 2 }
    })
    assert.deepEqual(tasks.load.inputs.parameters, { n: { componentInputParameter: 'n' } })
    assert.deepEqual(tasks.square.inputs.parameters, { scale: { componentInputParameter: 'scale' } })
    assert.equal(tasks.total.inputs.parameters, undefined)
    assert.deepEqual(tasks.total.inputs.artifacts, { data_square: { taskOutputArtifact: { producerTask: 'square', outputArtifactKey: 'data' } } })
    assert.deepEqual(spec.root.outputDefinitions.parameters, { total: { parameterType: 'NUMBER_DOUBLE' } })
    assert.deepEqual(spec.root.dag.outputs.parameters.total, { valueFromParameter: { producerSubtask: 'pipeline-metrics', outputParameterKey: 'total' } })
    assert.equal(spec.deploymentSpec.executors['exec-load'].container.image, 'python:3.11-slim')
    assert.equal(spec.pipelineInfo.name, 'linear')
  })

  it('applies labels, annotations and resource limits, and --image overrides the notebook image', async () => {
    const { spec, platform } = await compileFile(join(EXAMPLES, 'features.ipynb'), 'registry.example/ml:2')
    const ex = spec.deploymentSpec.executors
    assert.deepEqual(ex['exec-count'].container.resources, { cpuLimit: 1, resourceCpuLimit: '1', memoryLimit: 1.073741824, resourceMemoryLimit: '1Gi' })
    assert.deepEqual(ex['exec-report'].container.resources.accelerator, { type: 'nvidia.com/gpu', count: '1', resourceType: 'nvidia.com/gpu', resourceCount: '1' })
    assert.equal(ex['exec-words'].container.image, 'registry.example/ml:2')
    assert.deepEqual(platform?.platforms.kubernetes.deploymentSpec.executors['exec-count'], {
      podMetadata: { labels: { stage: 'count' }, annotations: { note: 'counts words' } }
    })
    const fan = await compileFile(join(EXAMPLES, 'fanout.ipynb'))
    assert.deepEqual(fan.platform?.platforms.kubernetes.deploymentSpec.executors['exec-left'].podMetadata.labels, { team: 'ml' })
  })

  it('mounts the notebook volumes in every step', async () => {
    const [dir, done] = await tempDir()
    try {
      const nb = await writeNotebook(dir, 'vol.ipynb', [{ tags: ['step:a'], code: 'x = 1' }],
        { volumes: [{ name: 'workspace', mount_point: '/home/jovyan', type: 'pvc' }] })
      const { spec, platform } = await compileFile(nb)
      assert.deepEqual(checkPipelineSpec(spec, platform), [])
      assert.deepEqual(platform?.platforms.kubernetes.deploymentSpec.executors['exec-a'].pvcMount, [{ constant: 'workspace', mountPath: '/home/jovyan' }])
    } finally { await done() }
  })

  it('refuses a limit Kubeflow cannot express, naming the cell', async () => {
    const [dir, done] = await tempDir()
    try {
      const nb = await writeNotebook(dir, 'bad.ipynb', [{ tags: ['step:a', 'limit:ephemeral-storage:1Gi'], code: 'x = 1' }])
      const pipeline = await loadPipeline(nb, { python: PYTHON })
      assert.throws(() => compilePipeline(pipeline), (err: any) => err.code === KaleErrorCode.UNSUPPORTED && /bad\.ipynb, cell 1: .*ephemeral-storage/.test(err.message))
    } finally { await done() }
  })

  it('the compiled step code runs when placeholders are filled as the KFP launcher does', async () => {
    const [dir, done] = await tempDir()
    try {
      const { spec } = await compileFile(join(EXAMPLES, 'fanout.ipynb'))
      const results = runCompiledLocally(spec, dir, { delay: '0.1' })
      assert.equal(Number(readFileSync(results['pipeline-metrics'].combined, 'utf8')), 31)
    } finally { await done() }
  })

  it('kale compile -o writes the YAML; without -o it goes to stdout', async () => {
    const [dir, done] = await tempDir()
    try {
      const out = join(dir, 'pipeline.yaml')
      const res = await kale(['compile', join(EXAMPLES, 'linear.ipynb'), '-o', out])
      assert.equal(res.code, 0, res.stderr)
      assert.match(res.stdout, /wrote .*pipeline\.yaml: pipeline 'linear', 4 steps/)
      const text = readFileSync(out, 'utf8')
      assert.match(text, /^# PIPELINE DEFINITION\n# Name: linear\n/)
      assert.deepEqual(checkPipelineSpec(parseAllDocuments(text)[0].toJS()), [])
      const stdout = await kale(['compile', join(EXAMPLES, 'linear.ipynb')])
      assert.equal(stdout.stdout, text)
    } finally { await done() }
  })
})

/**
 * Run a compiled pipeline's executors in dependency order, filling the placeholders
 * with local paths and values the way the KFP launcher does. Returns, per task, the
 * files it wrote for its output parameters.
 */
function runCompiledLocally (spec: Obj, dir: string, params: Record<string, string>): Record<string, Record<string, string>> {
  const tasks: Obj = spec.root.dag.tasks
  const done = new Set<string>()
  const outputs: Record<string, Record<string, string>> = {}
  while (done.size < Object.keys(tasks).length) {
    for (const [name, task] of Object.entries(tasks)) {
      if (done.has(name) || !(task.dependentTasks ?? []).every((d: string) => done.has(d))) continue
      const comp = spec.components[task.componentRef.name]
      const container = spec.deploymentSpec.executors[comp.executorLabel].container
      outputs[name] = {}
      const fill = (arg: string): string => arg.replace(/\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.[a-z_]+)?\}\}/g, (_m, io, kind, key) => {
        if (io === 'inputs' && kind === 'parameters') {
          const src = task.inputs.parameters[key].componentInputParameter
          return params[src] ?? String(spec.root.inputDefinitions.parameters[src].defaultValue)
        }
        if (io === 'inputs') {
          const ref = task.inputs.artifacts[key].taskOutputArtifact
          return join(dir, ref.producerTask, ref.outputArtifactKey)
        }
        if (kind === 'artifacts') return join(dir, name, key)
        const file = join(dir, name, 'params', key)
        outputs[name][key] = file
        return file
      })
      mkdirSync(join(dir, name), { recursive: true })
      const res = spawnSync(container.command[0], [...container.command.slice(1), ...container.args.map(fill)], { encoding: 'utf8' })
      assert.equal(res.status, 0, `task ${name} failed:\n${res.stderr}`)
      done.add(name)
    }
  }
  return outputs
}
