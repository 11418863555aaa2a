/**
 * Pipeline → Kubeflow Pipelines v2 IR (PipelineSpec, schemaVersion 2.1.0), plus the
 * Kubernetes platform spec (labels, annotations, volume mounts) as a second document,
 * as the kfp-kubernetes extension writes it.
 *
 * Each step is one component with one container executor running its generated script.
 * Values flow between pods as artifacts: a step that saves values has an output
 * artifact `data`; a step that loads values from step P has an input artifact `data_P`.
 * Parameters are root inputs, passed only to the steps that read them; metrics are
 * output parameters of the metrics step and outputs of the pipeline.
 */
import { DEFAULT_IMAGE } from '../constants.ts'
import { generateStepScript } from '../codegen/step.ts'
import type { AnalyzedStep, ParameterType, Pipeline } from '../model.ts'
import { kfpResources } from './resources.ts'

export const KFP_SCHEMA_VERSION = '2.1.0'
export const SDK_VERSION = 'kale-rok-0.1.0'

const PARAMETER_TYPES: Record<ParameterType, string> = {
  int: 'NUMBER_INTEGER', float: 'NUMBER_DOUBLE', str: 'STRING', bool: 'BOOLEAN'
}
const ARTIFACT_TYPE = { schemaTitle: 'system.Artifact', schemaVersion: '0.0.1' }
// Write the embedded step script to a file and run it with the task's arguments
// ($0 is the script text, "$@" the arguments), as KFP's lightweight components do.
const LAUNCH = 'program_path=$(mktemp -d)/step.py\nprintf "%s" "$0" > "$program_path"\nexec python3 -u "$program_path" "$@"\n'

export interface CompileOptions {
  /** Overrides the image from the notebook metadata. */
  image?: string
}

export interface CompiledPipeline {
  pipelineSpec: Record<string, unknown>
  /** Present when any step has labels, annotations or the pipeline mounts volumes. */
  platformSpec?: Record<string, unknown>
}

/** KFP task and component names: lowercase, '-' instead of '_'. */
export function kfpTaskName (step: string): string {
  return step.replaceAll('_', '-')
}

export function compilePipeline (pipeline: Pipeline, opts: CompileOptions = {}): CompiledPipeline {
  const image = opts.image ?? pipeline.image ?? DEFAULT_IMAGE
  const components: Record<string, unknown> = {}
  const executors: Record<string, unknown> = {}
  const tasks: Record<string, unknown> = {}
  const k8sExecutors: Record<string, unknown> = {}
  const paramType = new Map(pipeline.parameters.map(p => [p.name, PARAMETER_TYPES[p.type]]))

  for (const step of pipeline.steps) {
    const task = kfpTaskName(step.name)
    const producers = [...new Set(step.inputs.map(i => i.from))]
    components[`comp-${task}`] = component(step, task, producers, paramType)
    executors[`exec-${task}`] = { container: container(pipeline, step, producers, image) }
    const taskSpec: Record<string, unknown> = {
      taskInfo: { name: task },
      componentRef: { name: `comp-${task}` }
    }
    if (step.prev.length > 0) taskSpec.dependentTasks = step.prev.map(kfpTaskName).sort()
    const inputs: Record<string, unknown> = {}
    if (step.parameters.length > 0) {
      inputs.parameters = Object.fromEntries(step.parameters.map(p => [p, { componentInputParameter: p }]))
    }
    if (producers.length > 0) {
      inputs.artifacts = Object.fromEntries(producers.map(p => [`data_${p}`, {
        taskOutputArtifact: { producerTask: kfpTaskName(p), outputArtifactKey: 'data' }
      }]))
    }
    if (Object.keys(inputs).length > 0) taskSpec.inputs = inputs
    tasks[task] = taskSpec

    const k8s: Record<string, unknown> = {}
    const meta: Record<string, unknown> = {}
    if (Object.keys(step.labels).length > 0) meta.labels = step.labels
    if (Object.keys(step.annotations).length > 0) meta.annotations = step.annotations
    if (Object.keys(meta).length > 0) k8s.podMetadata = meta
    if (pipeline.volumes.length > 0) k8s.pvcMount = pipeline.volumes.map(v => ({ constant: v.name, mountPath: v.mountPoint }))
    if (Object.keys(k8s).length > 0) k8sExecutors[`exec-${task}`] = k8s
  }

  const root: Record<string, unknown> = { dag: { tasks } }
  if (pipeline.parameters.length > 0) {
    root.inputDefinitions = {
      parameters: Object.fromEntries(pipeline.parameters.map(p => [p.name, { parameterType: PARAMETER_TYPES[p.type], defaultValue: p.value }]))
    }
  }
  const metricsStep = pipeline.steps.find(s => s.metrics.length > 0)
  if (metricsStep !== undefined) {
    root.outputDefinitions = { parameters: Object.fromEntries(metricsStep.metrics.map(m => [m, { parameterType: 'NUMBER_DOUBLE' }])) }
    ;(root.dag as Record<string, unknown>).outputs = {
      parameters: Object.fromEntries(metricsStep.metrics.map(m => [m, {
        valueFromParameter: { producerSubtask: kfpTaskName(metricsStep.name), outputParameterKey: m }
      }]))
    }
  }
  const pipelineInfo: Record<string, unknown> = { name: pipeline.name }
  if (pipeline.description !== '') pipelineInfo.description = pipeline.description
  const pipelineSpec = {
    components,
    deploymentSpec: { executors },
    pipelineInfo,
    root,
    schemaVersion: KFP_SCHEMA_VERSION,
    sdkVersion: SDK_VERSION
  }
  const platformSpec = Object.keys(k8sExecutors).length > 0
    ? { platforms: { kubernetes: { deploymentSpec: { executors: k8sExecutors } } } }
    : undefined
  return { pipelineSpec, platformSpec }
}

function component (step: AnalyzedStep, task: string, producers: string[], paramType: Map<string, string>): Record<string, unknown> {
  const comp: Record<string, unknown> = { executorLabel: `exec-${task}` }
  const inputs: Record<string, unknown> = {}
  if (step.parameters.length > 0) inputs.parameters = Object.fromEntries(step.parameters.map(p => [p, { parameterType: paramType.get(p) }]))
  if (producers.length > 0) inputs.artifacts = Object.fromEntries(producers.map(p => [`data_${p}`, { artifactType: ARTIFACT_TYPE }]))
  if (Object.keys(inputs).length > 0) comp.inputDefinitions = inputs
  const outputs: Record<string, unknown> = {}
  if (step.outputs.length > 0) outputs.artifacts = { data: { artifactType: ARTIFACT_TYPE } }
  if (step.metrics.length > 0) outputs.parameters = Object.fromEntries(step.metrics.map(m => [m, { parameterType: 'NUMBER_DOUBLE' }]))
  if (Object.keys(outputs).length > 0) comp.outputDefinitions = outputs
  return comp
}

function container (pipeline: Pipeline, step: AnalyzedStep, producers: string[], image: string): Record<string, unknown> {
  const args: string[] = []
  if (step.outputs.length > 0) args.push('--output', "{{$.outputs.artifacts['data'].path}}")
  for (const p of producers) args.push('--input', `${p}={{$.inputs.artifacts['data_${p}'].path}}`)
  for (const p of step.parameters) args.push('--param', `${p}={{$.inputs.parameters['${p}']}}`)
  for (const m of step.metrics) args.push('--metric', `${m}={{$.outputs.parameters['${m}'].output_file}}`)
  const spec: Record<string, unknown> = {
    image,
    command: ['sh', '-ec', LAUNCH, generateStepScript(pipeline, step).code],
    args
  }
  const resources = kfpResources(step.limits, { source: pipeline.source, step: step.name, cell: step.cell })
  if (resources !== undefined) spec.resources = resources
  return spec
}
