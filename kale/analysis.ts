/**
 * Dependency analysis: which names each step must load from which earlier step, and
 * which it must save for later ones. The Python helper reports what each piece of code
 * defines and reads (Python's own parser, so the rules are Python's); this module joins
 * that with the step graph.
 *
 * Rules: names from the prelude (imports/functions) and parameters are never marshalled,
 * every step re-creates them. A name a step reads comes from the nearest ancestor that
 * defines it; two unordered ancestors both defining it is an error, as is a name no
 * ancestor defines (with a hint when a step outside the ancestry does).
 */
import { describeLocation, KaleErrorCode, kaleError, type KaleErrorCodeValue } from './errors.ts'
import { ancestors, dependencyOrder } from './graph.ts'
import { METRICS_STEP, type AnalyzedStep, type Parameter, type Pipeline, type PipelineSpec, type StepSpec } from './model.ts'
import { runPythonJson, type PythonOptions } from './python.ts'

interface NameRead { name: string, cell: number | null, line: number, builtin: boolean }
interface BlockReport { defines: string[], reads: NameRead[], warnings: Array<{ message: string, cell: number | null, line: number }> }
interface HelperProblem { code: string, message: string, cell: number | null, line: number | null }
interface NotebookReport {
  error?: HelperProblem
  prelude: BlockReport
  parameters: Array<Parameter & { cell: number | null, line: number }>
  metrics: Array<{ name: string, cell: number | null, line: number }>
  steps: Array<BlockReport & { name: string }>
}

/** Turn a helper-reported problem into a Kale error that names the cell and line. */
export function helperError (source: string, p: HelperProblem): Error {
  const loc = { cell: p.cell ?? undefined, line: p.line ?? undefined }
  return kaleError(p.code as KaleErrorCodeValue, `${describeLocation(source, loc)}: ${p.message}`, { details: { ...loc } })
}

export async function analyzePipeline (spec: PipelineSpec, opts: PythonOptions): Promise<Pipeline> {
  dependencyOrder(spec.steps, spec.source)
  const steps: StepSpec[] = [...spec.steps]
  if (spec.metricChunks.length > 0) {
    // The metrics cell becomes a last step after every leaf, so it can load any value.
    const isPrev = new Set(steps.flatMap(s => s.prev))
    steps.push({
      name: METRICS_STEP,
      prev: steps.filter(s => !isPrev.has(s.name)).map(s => s.name),
      chunks: spec.metricChunks,
      labels: {},
      annotations: {},
      limits: {},
      cell: spec.metricChunks[0].cell
    })
  }
  const report = await runPythonJson<NotebookReport>('analyze.py', {
    op: 'notebook',
    prelude: spec.prelude,
    parameters: spec.parameterChunks,
    metrics: spec.metricChunks,
    steps: steps.map(s => ({ name: s.name, chunks: s.chunks }))
  }, opts)
  if (report.error !== undefined) throw helperError(spec.source, report.error)

  const parameters: Parameter[] = spec.kind === 'notebook'
    ? report.parameters.map(p => ({ name: p.name, type: p.type, value: p.value }))
    : spec.parameters
  const metrics = spec.kind === 'notebook'
    ? report.metrics.map(m => ({ name: m.name, cell: m.cell ?? undefined, line: m.line }))
    : spec.metrics
  const warnings = [...spec.warnings]
  for (const block of [report.prelude, ...report.steps]) {
    for (const w of block.warnings) warnings.push({ message: w.message, cell: w.cell ?? undefined, line: w.line })
  }

  const order = dependencyOrder(steps, spec.source)
  const anc = ancestors(steps)
  const paramNames = new Set(parameters.map(p => p.name))
  const preludeNames = new Set(report.prelude.defines)
  const shared = (n: string): boolean => preludeNames.has(n) || paramNames.has(n)
  const defines = new Map(report.steps.map(s => [s.name, new Set(s.defines.filter(n => !shared(n)))]))
  const preludeParams = report.prelude.reads.filter(r => paramNames.has(r.name)).map(r => r.name)

  const analyzed = new Map<string, AnalyzedStep>()
  for (const step of steps) {
    const rep = report.steps.find(s => s.name === step.name)!
    const inputs: AnalyzedStep['inputs'] = []
    const used = new Set(preludeParams)
    for (const read of rep.reads) {
      if (paramNames.has(read.name)) { used.add(read.name); continue }
      if (preludeNames.has(read.name)) continue
      const from = producer(read, step, anc.get(step.name)!, defines, anc, spec.source)
      if (from !== undefined) inputs.push({ name: read.name, from })
    }
    analyzed.set(step.name, {
      ...step,
      inputs,
      outputs: [],
      parameters: parameters.map(p => p.name).filter(n => used.has(n)),
      metrics: step.name === METRICS_STEP ? metrics.map(m => m.name) : []
    })
  }
  for (const step of analyzed.values()) {
    for (const input of step.inputs) {
      const producerStep = analyzed.get(input.from)!
      if (!producerStep.outputs.includes(input.name)) producerStep.outputs.push(input.name)
    }
  }
  return { ...spec, parameters, metrics, warnings, steps: order.map(n => analyzed.get(n)!), order }
}

function producer (read: NameRead, step: StepSpec, mine: Set<string>, defines: Map<string, Set<string>>,
  anc: Map<string, Set<string>>, source: string): string | undefined {
  const candidates = [...mine].filter(a => defines.get(a)!.has(read.name))
  const loc = { cell: read.cell ?? undefined, line: read.line }
  if (candidates.length === 0) {
    if (read.builtin) return undefined
    const elsewhere = [...defines.entries()].filter(([n, d]) => n !== step.name && d.has(read.name)).map(([n]) => n)
    const hint = elsewhere.length > 0
      ? `; step '${elsewhere[0]}' defines it but '${step.name}' does not depend on it: add the tag prev:${elsewhere[0]} to step '${step.name}'`
      : '; define it in an earlier step, an imports/functions cell or the pipeline-parameters cell'
    throw kaleError(KaleErrorCode.UNDEFINED_NAME, `${describeLocation(source, loc)}: step '${step.name}' reads '${read.name}' before any step it depends on defines it${hint}`,
      { details: { ...loc, step: step.name, name: read.name } })
  }
  // The nearest producer is the one every other candidate is an ancestor of.
  const nearest = candidates.filter(c => candidates.every(o => o === c || anc.get(c)!.has(o)))
  if (nearest.length !== 1) {
    throw kaleError(KaleErrorCode.AMBIGUOUS_NAME, `${describeLocation(source, loc)}: step '${step.name}' reads '${read.name}', which steps ${candidates.map(c => `'${c}'`).join(' and ')} both define independently; make one depend on the other (prev:) or rename one`,
      { details: { ...loc, step: step.name, name: read.name, steps: candidates } })
  }
  return nearest[0]
}

