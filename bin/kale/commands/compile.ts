/** `kale compile`: a notebook or SDK module → Kubeflow Pipelines v2 YAML. */
import { writeFile, rename } from 'node:fs/promises'
import type { Command } from '../../cli/command.ts'
import { PYTHON_HELP, PYTHON_OPTION, kaleSettings } from '../config.ts'

export const compileCommand: Command = {
  name: 'compile',
  summary: 'compile a notebook or SDK module into Kubeflow Pipelines v2 YAML',
  usage: 'compile NOTEBOOK.ipynb|MODULE.py [-o pipeline.yaml] [--image IMAGE]',
  description: `
Writes the pipeline as KFP v2 IR YAML (schemaVersion 2.1.0), ready for the Kubeflow
Pipelines UI, API or 'kale submit'. Each step runs its generated code in the image from
the notebook metadata (or --image); step values travel between pods as artifacts.
Without -o the YAML goes to stdout.`,
  positionals: 1,
  options: { ...PYTHON_OPTION, output: { type: 'string', short: 'o' }, image: { type: 'string' } },
  optionHelp: { ...PYTHON_HELP, output: 'write the YAML to this file', image: 'container image for every step' },
  async run (ctx) {
    const { loadPipeline } = await import('../../../kale/load.ts')
    const { compilePipeline } = await import('../../../kale/kfp/compile.ts')
    const { pipelineYaml } = await import('../../../kale/kfp/yaml.ts')
    const pipeline = await loadPipeline(ctx.args[0], { python: kaleSettings(ctx).python, signal: ctx.signal })
    for (const w of pipeline.warnings) ctx.out.note(`warning: ${pipeline.source}${w.cell !== undefined ? `, cell ${w.cell}` : ''}${w.line !== undefined ? `, line ${w.line}` : ''}: ${w.message}`)
    const compiled = compilePipeline(pipeline, { image: ctx.options.image as string | undefined })
    const yaml = pipelineYaml(compiled)
    const output = ctx.options.output as string | undefined
    if (output === undefined && !ctx.out.json) {
      process.stdout.write(yaml)
      return
    }
    if (output !== undefined) {
      const tmp = `${output}.${process.pid}.tmp`
      await writeFile(tmp, yaml)
      await rename(tmp, output)
    }
    const summary = {
      pipeline: pipeline.name,
      output,
      steps: pipeline.steps.map(s => ({ name: s.name, prev: s.prev, inputs: s.inputs, outputs: s.outputs, parameters: s.parameters })),
      parameters: pipeline.parameters,
      metrics: pipeline.metrics.map(m => m.name),
      yaml: output === undefined ? yaml : undefined
    }
    ctx.out.result(summary, () => ctx.out.line(`wrote ${output!}: pipeline '${pipeline.name}', ${pipeline.steps.length} steps`))
  }
}
