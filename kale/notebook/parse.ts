/**
 * Notebook → pipeline spec, from the .ipynb JSON value (no I/O, no Python): cells are
 * grouped by their tags into the prelude, parameters, metrics and steps. Names are
 * analysed later by the Python helper (see ../analysis).
 */
import { KaleErrorCode, kaleError } from '../errors.ts'
import type { Chunk, PipelineSpec, StepSpec, Volume, Warning } from '../model.ts'
import { dropMagics } from './magics.ts'
import { parseCellTags, type CellRole } from './tags.ts'

interface NotebookCell {
  cell_type: string
  source: string | string[]
  metadata?: { tags?: unknown }
}

export interface ParseNotebookOptions {
  /** Path shown in messages and used for the default pipeline name. */
  source: string
}

export function parseNotebook (value: unknown, opts: ParseNotebookOptions): PipelineSpec {
  const nb = value as { cells?: unknown, metadata?: Record<string, unknown>, nbformat?: unknown }
  if (nb === null || typeof nb !== 'object' || !Array.isArray(nb.cells)) {
    throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${opts.source} is not a Jupyter notebook: no "cells" list`)
  }
  if (nb.nbformat !== undefined && nb.nbformat !== 4) {
    throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${opts.source} uses nbformat ${String(nb.nbformat)}; Kale reads nbformat 4 (save it again with Jupyter to upgrade)`)
  }
  const settings = notebookSettings(nb.metadata?.kubeflow_notebook, opts.source)
  const defaults = parseCellTags(settings.stepDefaults, 0)

  const spec: PipelineSpec = {
    kind: 'notebook',
    source: opts.source,
    name: settings.name,
    experiment: settings.experiment,
    description: settings.description,
    image: settings.image,
    volumes: settings.volumes,
    parameters: [],
    metrics: [],
    prelude: [],
    parameterChunks: [],
    metricChunks: [],
    steps: [],
    warnings: []
  }
  const steps = new Map<string, StepSpec>()
  let current: CellRole | undefined

  ;(nb.cells as NotebookCell[]).forEach((raw, index) => {
    const cell = index + 1
    if (raw === null || typeof raw !== 'object' || typeof raw.cell_type !== 'string') {
      throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${opts.source}: cell ${cell} is malformed`, { details: { cell } })
    }
    if (raw.cell_type !== 'code') return
    const source = Array.isArray(raw.source) ? raw.source.join('') : String(raw.source ?? '')
    const rawTags = raw.metadata?.tags ?? []
    if (!Array.isArray(rawTags)) throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${opts.source}: cell ${cell} has tags that are not a list`, { details: { cell } })
    const tags = parseCellTags(rawTags as string[], cell)

    let role = tags.role
    if (role === undefined || (role.kind === 'step' && role.name === '')) {
      // Untagged cells (and `block:` with no name) continue whatever came before.
      if (current === undefined) {
        if (source.trim() === '') return
        throw kaleError(KaleErrorCode.INVALID_TAG,
          `cell ${cell} has no Kale tag and no earlier tagged cell to continue; tag it (e.g. imports or step:load_data)`, { details: { cell } })
      }
      role = current
    }
    if (role.kind !== 'step' && (tags.prev.length > 0 || Object.keys({ ...tags.labels, ...tags.annotations, ...tags.limits }).length > 0)) {
      throw kaleError(KaleErrorCode.INVALID_TAG, `cell ${cell}: prev/label/annotation/limit tags only apply to step cells`, { details: { cell } })
    }
    current = role
    if (role.kind === 'skip') return

    const dropped = dropMagics(source, cell)
    spec.warnings.push(...dropped.warnings)
    const chunk: Chunk = { cell, firstLine: 1, code: dropped.code }
    switch (role.kind) {
      case 'imports':
      case 'functions':
        spec.prelude.push(chunk)
        return
      case 'parameters':
        spec.parameterChunks.push(chunk)
        return
      case 'metrics':
        spec.metricChunks.push(chunk)
        return
      case 'step': {
        let step = steps.get(role.name)
        if (step === undefined) {
          step = {
            name: role.name,
            prev: [],
            chunks: [],
            labels: { ...defaults.labels },
            annotations: { ...defaults.annotations },
            limits: { ...defaults.limits },
            cell
          }
          steps.set(role.name, step)
          spec.steps.push(step)
        }
        // A repeated step name merges into that step, in notebook order.
        for (const p of tags.prev) if (!step.prev.includes(p)) step.prev.push(p)
        Object.assign(step.labels, tags.labels)
        Object.assign(step.annotations, tags.annotations)
        Object.assign(step.limits, tags.limits)
        step.chunks.push(chunk)
      }
    }
  })
  if (spec.steps.length === 0) {
    throw kaleError(KaleErrorCode.NO_STEPS, `${opts.source} has no pipeline steps: tag at least one code cell step:NAME`)
  }
  return spec
}

interface NotebookSettings {
  name: string
  experiment: string
  description: string
  image?: string
  volumes: Volume[]
  stepDefaults: string[]
}

/** `metadata.kubeflow_notebook`, as Kale's JupyterLab extension writes it. */
function notebookSettings (raw: unknown, source: string): NotebookSettings {
  const m = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
  const str = (v: unknown): string | undefined => typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
  const base = source.split('/').pop()!.replace(/\.ipynb$/, '')
  const name = kfpName(str(m.pipeline_name) ?? base)
  const experimentObj = m.experiment as { name?: unknown } | undefined
  const experiment = str(m.experiment_name) ?? str(experimentObj?.name) ?? 'Default'
  const volumes: Volume[] = []
  if (Array.isArray(m.volumes)) {
    for (const v of m.volumes as Array<Record<string, unknown>>) {
      const volName = str(v.name)
      const mount = str(v.mount_point)
      if (volName === undefined || mount === undefined) continue
      const size = v.size !== undefined ? `${String(v.size)}${str(v.size_type) ?? 'Gi'}` : undefined
      volumes.push({ name: volName, mountPoint: mount, size })
    }
  }
  const stepDefaults = Array.isArray(m.steps_defaults) ? (m.steps_defaults as unknown[]).filter((t): t is string => typeof t === 'string') : []
  return { name, experiment, description: str(m.pipeline_description) ?? '', image: str(m.docker_image), volumes, stepDefaults }
}

/** Kubeflow pipeline names: lowercase letters, digits and '-'. */
export function kfpName (text: string): string {
  const cleaned = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  return cleaned === '' ? 'pipeline' : cleaned.slice(0, 63)
}
