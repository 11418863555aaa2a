/** `kale submit`: compile, upload to Kubeflow Pipelines and start a run there. */
import type { Command } from '../../cli/command.ts'
import { KaleErrorCode, kaleError } from '../../../kale/errors.ts'
import { PYTHON_HELP, PYTHON_OPTION, kaleSettings } from '../config.ts'

export const submitCommand: Command = {
  name: 'submit',
  summary: 'compile a pipeline, upload it to Kubeflow Pipelines and start a run',
  usage: 'submit NOTEBOOK.ipynb|MODULE.py [--endpoint URL] [--param NAME=VALUE]...',
  description: `
Uses the Kubeflow Pipelines REST API v2beta1 at --endpoint (or $KFP_ENDPOINT). The
pipeline is uploaded under its name (a new version when it already exists), the
experiment from the notebook metadata is created if needed, and a run is started.
A token for authenticated endpoints comes from --token or $KFP_TOKEN.`,
  positionals: 1,
  options: {
    ...PYTHON_OPTION,
    endpoint: { type: 'string' },
    token: { type: 'string' },
    namespace: { type: 'string' },
    experiment: { type: 'string' },
    image: { type: 'string' },
    param: { type: 'string', short: 'p', multiple: true }
  },
  optionHelp: {
    ...PYTHON_HELP,
    endpoint: 'Kubeflow Pipelines API base URL (default $KFP_ENDPOINT)',
    token: 'bearer token (default $KFP_TOKEN)',
    namespace: 'Kubeflow profile namespace for the experiment',
    experiment: 'experiment name (default from the notebook metadata)',
    image: 'container image for every step',
    param: 'set a pipeline parameter for this run (repeatable)'
  },
  async run (ctx) {
    const endpoint = (ctx.options.endpoint as string | undefined) ?? ctx.env.KFP_ENDPOINT
    if (endpoint === undefined || endpoint === '') {
      throw kaleError(KaleErrorCode.NO_ENDPOINT, 'no Kubeflow Pipelines endpoint: pass --endpoint URL or set KFP_ENDPOINT (e.g. http://localhost:8888 after kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8888:80)')
    }
    const { loadPipeline } = await import('../../../kale/load.ts')
    const { compilePipeline } = await import('../../../kale/kfp/compile.ts')
    const { pipelineYaml } = await import('../../../kale/kfp/yaml.ts')
    const { parseParamArgs } = await import('../../../kale/params.ts')
    const { kfpClient } = await import('../../../kale/kfp/client.ts')
    const { newRunId } = await import('../../../kale/runner/records.ts')
    const pipeline = await loadPipeline(ctx.args[0], { python: kaleSettings(ctx).python, signal: ctx.signal })
    const params = parseParamArgs((ctx.options.param as string[] | undefined) ?? [], pipeline.parameters)
    const yaml = pipelineYaml(compilePipeline(pipeline, { image: ctx.options.image as string | undefined }))
    const stamp = newRunId()
    const client = kfpClient({ endpoint, token: (ctx.options.token as string | undefined) ?? ctx.env.KFP_TOKEN, namespace: ctx.options.namespace as string | undefined })
    const result = await client.submit({
      pipelineName: pipeline.name,
      description: pipeline.description,
      experiment: (ctx.options.experiment as string | undefined) ?? pipeline.experiment,
      runName: `${pipeline.name}-${stamp}`,
      versionName: `${pipeline.name}-${stamp}`,
      yaml,
      parameters: params,
      signal: ctx.signal
    })
    ctx.out.result({ pipeline: pipeline.name, ...result }, (r: typeof result) => {
      ctx.out.line(`${r.newVersion ? 'uploaded a new version of' : 'uploaded'} pipeline '${pipeline.name}' (${r.pipelineId})`)
      ctx.out.line(`started run ${r.runId} in experiment ${r.experimentId}`)
      ctx.out.line(r.runUrl)
    })
  }
}
