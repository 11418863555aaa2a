/**
 * Kale's cell tags, as Kubeflow's Kale writes them into `metadata.tags`. One cell has at
 * most one role (imports, functions, parameters, metrics, skip or a step) plus any number
 * of `prev:`, `label:`, `annotation:` and `limit:` tags.
 */
import { KaleErrorCode, kaleError } from '../errors.ts'
import { STEP_NAME } from '../model.ts'

export type CellRole =
  | { kind: 'imports' }
  | { kind: 'functions' }
  | { kind: 'parameters' }
  | { kind: 'metrics' }
  | { kind: 'skip' }
  /** `step:NAME` / `block:NAME`; an empty name continues the previous step. */
  | { kind: 'step', name: string }

export interface CellTags {
  role?: CellRole
  prev: string[]
  labels: Record<string, string>
  annotations: Record<string, string>
  limits: Record<string, string>
}

const ROLE_TAGS: Record<string, CellRole> = {
  imports: { kind: 'imports' },
  functions: { kind: 'functions' },
  'pipeline-parameters': { kind: 'parameters' },
  'pipeline-metrics': { kind: 'metrics' },
  skip: { kind: 'skip' }
}

// Kubernetes label keys/values and annotation keys; values of annotations are free text.
const K8S_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/

export function parseCellTags (tags: string[], cell: number): CellTags {
  const out: CellTags = { prev: [], labels: {}, annotations: {}, limits: {} }
  const bad = (tag: string, why: string): Error =>
    kaleError(KaleErrorCode.INVALID_TAG, `cell ${cell}: tag '${tag}' ${why}`, { details: { cell, tag } })
  const setRole = (tag: string, role: CellRole): void => {
    if (out.role !== undefined) throw bad(tag, 'gives the cell a second role; a cell is one of imports, functions, pipeline-parameters, pipeline-metrics, skip or step:NAME')
    out.role = role
  }
  for (const tag of tags) {
    if (typeof tag !== 'string') throw bad(String(tag), 'is not a string')
    const fixed = ROLE_TAGS[tag]
    if (fixed !== undefined) { setRole(tag, fixed); continue }
    const colon = tag.indexOf(':')
    const prefix = colon === -1 ? tag : tag.slice(0, colon)
    const rest = colon === -1 ? undefined : tag.slice(colon + 1)
    switch (prefix) {
      case 'step':
      case 'block': {
        if (rest === undefined) throw bad(tag, `needs a name: ${prefix}:NAME`)
        if (rest !== '' && !STEP_NAME.test(rest)) throw bad(tag, 'has an invalid step name: use lowercase letters, digits and _, not starting with a digit')
        setRole(tag, { kind: 'step', name: rest })
        break
      }
      case 'prev': {
        if (rest === undefined || !STEP_NAME.test(rest)) throw bad(tag, 'must name a step: prev:NAME')
        out.prev.push(rest)
        break
      }
      case 'label':
      case 'annotation': {
        const sep = rest?.lastIndexOf(':') ?? -1
        const key = rest?.slice(0, sep) ?? ''
        const value = rest?.slice(sep + 1) ?? ''
        if (sep <= 0 || !K8S_KEY.test(key)) throw bad(tag, `must be ${prefix}:KEY:VALUE with a Kubernetes key`)
        if (prefix === 'label') {
          if (!LABEL_VALUE.test(value)) throw bad(tag, 'has a value Kubernetes does not allow in a label')
          out.labels[key] = value
        } else {
          out.annotations[key] = value
        }
        break
      }
      case 'limit': {
        const sep = rest?.lastIndexOf(':') ?? -1
        const resource = rest?.slice(0, sep) ?? ''
        const quantity = rest?.slice(sep + 1) ?? ''
        if (sep <= 0 || !K8S_KEY.test(resource)) throw bad(tag, 'must be limit:RESOURCE:QUANTITY, e.g. limit:nvidia.com/gpu:1')
        if (!QUANTITY.test(quantity)) throw bad(tag, `has '${quantity}', which is not a Kubernetes quantity (e.g. 1, 500m, 4Gi)`)
        out.limits[resource] = quantity
        break
      }
      default:
        throw bad(tag, 'is not a Kale tag (imports, functions, pipeline-parameters, pipeline-metrics, skip, step:NAME, block:NAME, prev:NAME, label:K:V, annotation:K:V, limit:R:Q)')
    }
  }
  return out
}
