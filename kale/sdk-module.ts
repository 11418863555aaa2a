/**
 * SDK module → pipeline spec. The helper finds `@pipeline` and `@step`; each step call
 * in the pipeline body becomes a step whose code is that one call line, run after the
 * module's own top level (with the decorators, the pipeline function and any
 * `if __name__ == '__main__'` block blanked out, so line numbers stay the module's).
 * A step depends on the steps whose results it is called with.
 */
import { helperError } from './analysis.ts'
import type { Parameter, PipelineSpec, StepSpec } from './model.ts'
import { STEP_NAME } from './model.ts'
import { KaleErrorCode, kaleError } from './errors.ts'
import { kfpName } from './notebook/parse.ts'
import { runPythonJson, type PythonOptions } from './python.ts'

interface SdkReport {
  error?: { code: string, message: string, cell: number | null, line: number | null }
  pipeline: { options: Record<string, unknown>, function: string, line: number }
  parameters: Parameter[]
  steps: Array<{ name: string, function: string, line: number, code: string, options: Record<string, unknown>, reads: string[], targets: string[] }>
  prelude: string
}

export async function parseSdkModule (text: string, source: string, opts: PythonOptions): Promise<PipelineSpec> {
  const rep = await runPythonJson<SdkReport>('analyze.py', { op: 'sdk', source: text }, opts)
  if (rep.error !== undefined) throw helperError(source, rep.error)
  const o = rep.pipeline.options
  const str = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
  const producedBy = new Map<string, string>()
  const steps: StepSpec[] = []
  for (const call of rep.steps) {
    if (!STEP_NAME.test(call.name)) {
      throw kaleError(KaleErrorCode.INVALID_SDK_MODULE, `${source}, line ${call.line}: step name '${call.name}' is invalid: use lowercase letters, digits and _`, { details: { line: call.line } })
    }
    const prev = [...new Set(call.reads.map(n => producedBy.get(n)).filter((p): p is string => p !== undefined))]
    steps.push({
      name: call.name,
      prev,
      chunks: [{ firstLine: call.line, code: call.code }],
      labels: stringMap(call.options.labels),
      annotations: stringMap(call.options.annotations),
      limits: stringMap(call.options.limits),
      line: call.line
    })
    for (const t of call.targets) producedBy.set(t, call.name)
  }
  if (steps.length === 0) {
    throw kaleError(KaleErrorCode.NO_STEPS, `${source}, line ${rep.pipeline.line}: the @pipeline function calls no @step functions`, { details: { line: rep.pipeline.line } })
  }
  return {
    kind: 'sdk',
    source,
    name: kfpName(str(o.name) ?? rep.pipeline.function),
    experiment: str(o.experiment) ?? 'Default',
    description: str(o.description) ?? '',
    image: str(o.image),
    volumes: [],
    parameters: rep.parameters.map(p => ({ name: p.name, type: p.type, value: p.value })),
    metrics: [],
    prelude: [{ firstLine: 1, code: rep.prelude }],
    parameterChunks: [],
    metricChunks: [],
    steps,
    warnings: []
  }
}

function stringMap (v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object') return {}
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]))
}
