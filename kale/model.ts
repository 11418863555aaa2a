/**
 * Kale's terms. A **pipeline** is a set of **steps** joined by `prev` links (a DAG). Each
 * step is a list of **chunks**: pieces of user code that remember where they came from
 * (notebook cell and line, or module line), so errors and tracebacks point back there.
 * The **prelude** (imports and functions cells, or an SDK module's top level) runs at the
 * start of every step. After analysis every step knows its **inputs** (names it loads,
 * each from one producing step), its **outputs** (names a later step reads) and the
 * **parameters** it uses.
 */

export interface Chunk {
  /** 1-based notebook cell number; absent for SDK modules. */
  cell?: number
  /** Line in the cell (or module) where `code` starts, 1-based. */
  firstLine: number
  code: string
}

export type ParameterType = 'int' | 'float' | 'str' | 'bool'

export interface Parameter {
  name: string
  type: ParameterType
  value: number | string | boolean
}

export interface Volume {
  name: string
  mountPoint: string
  /** Kubernetes PVC size, e.g. `5Gi`; only used when the claim is created. */
  size?: string
}

export interface StepSpec {
  name: string
  prev: string[]
  chunks: Chunk[]
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Resource limits, e.g. `{ 'nvidia.com/gpu': '1', cpu: '2', memory: '4Gi' }`. */
  limits: Record<string, string>
  /** Where the step was declared, for errors about the step as a whole. */
  cell?: number
  line?: number
}

export interface PipelineSpec {
  kind: 'notebook' | 'sdk'
  /** Path of the notebook or module, as the user gave it. */
  source: string
  name: string
  experiment: string
  description: string
  /** Container image for every step (from the notebook metadata, `@pipeline(image=)` or --image). */
  image?: string
  volumes: Volume[]
  parameters: Parameter[]
  /** Metric names, printed in the `pipeline-metrics` cell. */
  metrics: Array<{ name: string, cell?: number, line?: number }>
  prelude: Chunk[]
  parameterChunks: Chunk[]
  metricChunks: Chunk[]
  steps: StepSpec[]
  warnings: Warning[]
}

export interface Warning {
  message: string
  cell?: number
  line?: number
}

export interface StepInput {
  name: string
  /** The step whose saved value this step loads. */
  from: string
}

export interface AnalyzedStep extends StepSpec {
  inputs: StepInput[]
  outputs: string[]
  /** Pipeline parameters this step reads. */
  parameters: string[]
  /** Metric names this step reports (only the metrics step). */
  metrics: string[]
}

export interface Pipeline extends Omit<PipelineSpec, 'steps'> {
  steps: AnalyzedStep[]
  /** Step names in a dependency order (each after all of its `prev`). */
  order: string[]
}

/** Name of the step Kale adds to report the `pipeline-metrics` values. */
export const METRICS_STEP = 'pipeline_metrics'

export const STEP_NAME = /^[_a-z][_a-z0-9]*$/
