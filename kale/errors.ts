/**
 * Kale's error codes. Every compile error carries `details.cell` (1-based notebook cell
 * number) or `details.line` of the SDK module where it can, so editors and the CLI can
 * point at the exact place; callers branch on `code`, never on the message.
 */
import { RokError, type RokErrorOptions } from '../protocol/errors.ts'

export const KaleErrorCode = {
  /** The notebook is not valid .ipynb JSON (nbformat 4). */
  INVALID_NOTEBOOK: 'ERR_KALE_INVALID_NOTEBOOK',
  /** A cell tag is malformed or unknown (`step:Bad-Name`, `limit:cpu`). */
  INVALID_TAG: 'ERR_KALE_INVALID_TAG',
  /** `prev:NAME` names a step that does not exist. */
  UNKNOWN_PREV: 'ERR_KALE_UNKNOWN_PREV',
  /** The steps' `prev` links form a cycle. */
  CYCLE: 'ERR_KALE_CYCLE',
  /** A step reads a name that no earlier step, import or parameter defines. */
  UNDEFINED_NAME: 'ERR_KALE_UNDEFINED_NAME',
  /** Two steps that do not depend on each other both define a name a later step reads. */
  AMBIGUOUS_NAME: 'ERR_KALE_AMBIGUOUS_NAME',
  /** Python could not parse a cell or module. */
  SYNTAX: 'ERR_KALE_SYNTAX',
  /** A `pipeline-parameters` cell holds something other than literal assignments. */
  INVALID_PARAMETER: 'ERR_KALE_INVALID_PARAMETER',
  /** A `pipeline-metrics` cell holds something other than `print(name)` lines. */
  INVALID_METRIC: 'ERR_KALE_INVALID_METRIC',
  /** The SDK module has no `@pipeline`, or its pipeline body is not a sequence of step calls. */
  INVALID_SDK_MODULE: 'ERR_KALE_INVALID_SDK_MODULE',
  /** The notebook defines no steps at all. */
  NO_STEPS: 'ERR_KALE_NO_STEPS',
  /** The Python interpreter could not be started or the analysis helper failed. */
  PYTHON: 'ERR_KALE_PYTHON',
  /** `--param k=v` names an unknown parameter or has a value of the wrong type. */
  BAD_PARAM: 'ERR_KALE_BAD_PARAM',
  /** A step exited with an error. */
  STEP_FAILED: 'ERR_KALE_STEP_FAILED',
  /** No run with that id exists. */
  RUN_NOT_FOUND: 'ERR_KALE_RUN_NOT_FOUND',
  /** `--from STEP` names a step that is not in the run. */
  UNKNOWN_STEP: 'ERR_KALE_UNKNOWN_STEP',
  /** The earlier run's saved step data is missing, so it cannot be reused. */
  MISSING_STEP_DATA: 'ERR_KALE_MISSING_STEP_DATA',
  /** A compile option cannot be expressed in Kubeflow Pipelines (e.g. an unsupported resource). */
  UNSUPPORTED: 'ERR_KALE_UNSUPPORTED',
  /** `kale submit` has no Kubeflow Pipelines endpoint configured. */
  NO_ENDPOINT: 'ERR_KALE_NO_ENDPOINT',
  /** The Kubeflow Pipelines API answered with an error. */
  KFP_API: 'ERR_KALE_KFP_API',
  /** A step snapshot or restore through the Rok engine failed. */
  SNAPSHOT: 'ERR_KALE_SNAPSHOT'
} as const

export type KaleErrorCodeValue = typeof KaleErrorCode[keyof typeof KaleErrorCode]

export function kaleError (code: KaleErrorCodeValue, message: string, options: RokErrorOptions = {}): RokError {
  return new RokError(code, message, options)
}

/** Where in the source something is, for messages: "cell 4, line 2" or "line 17". */
export interface SourceLocation {
  /** 1-based notebook cell number (as Jupyter counts, all cells). */
  cell?: number
  /** 1-based line within the cell, or within the module for SDK modules. */
  line?: number
}

export function describeLocation (source: string, loc: SourceLocation): string {
  const parts = [source]
  if (loc.cell !== undefined) parts.push(`cell ${loc.cell}`)
  if (loc.line !== undefined) parts.push(`line ${loc.line}`)
  return parts.join(', ')
}
