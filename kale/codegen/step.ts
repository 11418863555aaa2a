/**
 * One pipeline step → one standalone Python script. The same script runs locally and in
 * a Kubeflow pod; only its arguments differ:
 *   --input PRODUCER=DIR   folder holding the values PRODUCER saved (repeatable)
 *   --output DIR           where this step saves the values later steps read
 *   --param NAME=VALUE     a pipeline parameter (the script embeds the defaults)
 *   --metric NAME=FILE     write a metric's value to FILE (KFP output parameter)
 *   --metrics-json FILE    write all metrics as one JSON object (local runs)
 * User code is copied in verbatim, and `lineMap` records where every script line came
 * from so a traceback can point at the notebook cell and line.
 */
import { readFileSync } from 'node:fs'
import { PYTHON_DIR } from '../python.ts'
import type { AnalyzedStep, Chunk, Pipeline } from '../model.ts'

const RUNTIME = readFileSync(PYTHON_DIR + 'runtime.py', 'utf8')

export interface LineOrigin {
  /** Notebook cell (absent for SDK modules). */
  cell?: number
  line: number
}

export interface StepScript {
  step: string
  code: string
  /** Index i holds the origin of script line i + 1, or null for Kale's own lines. */
  lineMap: Array<LineOrigin | null>
}

/** A Python string literal for any text (JSON string syntax is valid Python). */
export function pyString (text: string): string {
  return JSON.stringify(text)
}

function pyValue (v: string | number | boolean, type: string): string {
  if (type === 'bool') return v === true ? 'True' : 'False'
  if (type === 'str') return pyString(String(v))
  if (type === 'float') return Number.isInteger(v) ? `${String(v)}.0` : String(v)
  return String(v)
}

export function generateStepScript (pipeline: Pipeline, step: AnalyzedStep): StepScript {
  const lines: string[] = []
  const map: Array<LineOrigin | null> = []
  const emit = (text: string): void => {
    for (const l of text.split('\n')) { lines.push(l); map.push(null) }
  }
  const emitChunk = (chunk: Chunk): void => {
    chunk.code.split('\n').forEach((l, i) => {
      lines.push(l)
      map.push({ cell: chunk.cell, line: chunk.firstLine + i })
    })
  }
  emit(`# Kale step '${step.name}' of pipeline '${pipeline.name}', generated from ${pipeline.source}.`)
  emit('# Edit the notebook or module, not this file: it is rewritten on every compile or run.')
  emit(RUNTIME.trimEnd())
  const params = pipeline.parameters.filter(p => step.parameters.includes(p.name))
  const paramSpec = params.map(p => `${pyString(p.name)}: (${pyString(p.type)}, ${pyValue(p.value, p.type)})`).join(', ')
  emit(`_kale_args = _KaleArgs(_kale_sys.argv[1:], {${paramSpec}})`)
  for (const p of params) emit(`${p.name} = _kale_args.params[${pyString(p.name)}]`)
  if (pipeline.prelude.length > 0) emit('# --- imports and functions ---')
  for (const chunk of pipeline.prelude) emitChunk(chunk)
  if (step.inputs.length > 0) emit('# --- values from earlier steps ---')
  for (const input of step.inputs) emit(`${input.name} = _kale_load(_kale_args, ${pyString(input.from)}, ${pyString(input.name)})`)
  emit(`# --- step '${step.name}' ---`)
  for (const chunk of step.chunks) emitChunk(chunk)
  if (step.outputs.length > 0) emit(`_kale_handoff(${pyString(step.name)}, globals(), [${step.outputs.map(pyString).join(', ')}])`)
  emit('# --- save values later steps read ---')
  for (const name of step.outputs) emit(`_kale_save(_kale_args, ${pyString(step.name)}, ${pyString(name)}, globals())`)
  if (step.metrics.length > 0) emit(`_kale_report_metrics(_kale_args, globals(), [${step.metrics.map(pyString).join(', ')}])`)
  return { step: step.name, code: lines.join('\n') + '\n', lineMap: map }
}
