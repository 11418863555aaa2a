/**
 * `limit:RESOURCE:QUANTITY` → the KFP IR container resources. Newer KFP backends read
 * the string fields (`resourceCpuLimit`), older ones the numeric ones (`cpuLimit`, GB for
 * memory); the KFP SDK has written both since 2.8, and so do we.
 */
import { KaleErrorCode, kaleError } from '../errors.ts'

const SUFFIX: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60
}

export function quantityValue (q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(q)
  if (m === null || SUFFIX[m[2]] === undefined) throw new Error(`'${q}' is not a Kubernetes quantity`)
  return Number(m[1]) * SUFFIX[m[2]]
}

export interface KfpResources {
  cpuLimit?: number
  resourceCpuLimit?: string
  memoryLimit?: number
  resourceMemoryLimit?: string
  accelerator?: { type: string, count: string, resourceType: string, resourceCount: string }
}

export function kfpResources (limits: Record<string, string>, where: { source: string, step: string, cell?: number }): KfpResources | undefined {
  const out: KfpResources = {}
  for (const [resource, quantity] of Object.entries(limits)) {
    if (resource === 'cpu') {
      out.cpuLimit = quantityValue(quantity)
      out.resourceCpuLimit = quantity
    } else if (resource === 'memory') {
      out.memoryLimit = quantityValue(quantity) / 1e9
      out.resourceMemoryLimit = quantity
    } else if (resource.includes('/')) {
      if (out.accelerator !== undefined) throw unsupported(`step '${where.step}' asks for two accelerator kinds; a Kubeflow step can have one`, where)
      if (!/^[0-9]+$/.test(quantity)) throw unsupported(`accelerator limit ${resource}:${quantity} must be a whole number`, where)
      out.accelerator = { type: resource, count: quantity, resourceType: resource, resourceCount: quantity }
    } else {
      throw unsupported(`step '${where.step}' has limit:${resource}:${quantity}, but Kubeflow Pipelines can only limit cpu, memory and accelerators (like nvidia.com/gpu)`, where)
    }
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function unsupported (message: string, where: { source: string, cell?: number }): Error {
  return kaleError(KaleErrorCode.UNSUPPORTED, `${where.source}${where.cell !== undefined ? `, cell ${where.cell}` : ''}: ${message}`, { details: { cell: where.cell } })
}
