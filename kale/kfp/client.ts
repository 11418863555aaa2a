/**
 * The few Kubeflow Pipelines REST calls (API v2beta1) `kale submit` needs: find or
 * upload the pipeline (a new version when it exists), find or create the experiment,
 * start a run. Every request has a deadline; errors carry the HTTP status and the
 * server's message.
 */
import { KFP_REQUEST_TIMEOUT_MS } from '../constants.ts'
import { KaleErrorCode, kaleError } from '../errors.ts'

export interface KfpClientInit {
  /** Base URL, e.g. http://localhost:8888 or https://kubeflow.example.com/pipeline */
  endpoint: string
  /** Bearer token, if the endpoint needs one. */
  token?: string
  /** Kubeflow profile namespace for multi-user installs. */
  namespace?: string
  /** Per-request deadline. @default 30000 */
  timeoutMs?: number
  fetch?: typeof fetch
}

export interface SubmitRequest {
  pipelineName: string
  description: string
  experiment: string
  runName: string
  versionName: string
  yaml: string
  parameters: Record<string, string | number | boolean>
  signal?: AbortSignal
}

export interface SubmitResult {
  pipelineId: string
  pipelineVersionId: string
  experimentId: string
  runId: string
  /** True when the pipeline already existed and a new version was added. */
  newVersion: boolean
  runUrl: string
}

export function kfpClient (init: KfpClientInit): { submit: (r: SubmitRequest) => Promise<SubmitResult> } {
  const base = init.endpoint.replace(/\/+$/, '')
  const doFetch = init.fetch ?? fetch
  const call = async <T>(method: string, path: string, body: FormData | object | undefined, signal?: AbortSignal): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`
    let payload: FormData | string | undefined
    if (body instanceof FormData) payload = body
    else if (body !== undefined) { payload = JSON.stringify(body); headers['content-type'] = 'application/json' }
    const deadline = AbortSignal.timeout(init.timeoutMs ?? KFP_REQUEST_TIMEOUT_MS)
    let res: Response
    try {
      res = await doFetch(base + path, { method, headers, body: payload, signal: signal !== undefined ? AbortSignal.any([signal, deadline]) : deadline })
    } catch (cause) {
      throw kaleError(KaleErrorCode.KFP_API, `cannot reach Kubeflow Pipelines at ${base}: ${(cause as Error).message}`, { cause, details: { endpoint: base } })
    }
    const text = await res.text()
    if (!res.ok) {
      let message = text.slice(0, 300)
      try { message = (JSON.parse(text) as { message?: string, error?: string }).message ?? (JSON.parse(text) as { error?: string }).error ?? message } catch {}
      throw kaleError(KaleErrorCode.KFP_API, `Kubeflow Pipelines ${method} ${path.split('?')[0]} failed with HTTP ${res.status}: ${message}`, { details: { status: res.status, path } })
    }
    try {
      return (text === '' ? {} : JSON.parse(text)) as T
    } catch (cause) {
      throw kaleError(KaleErrorCode.KFP_API, `Kubeflow Pipelines ${method} ${path.split('?')[0]} answered with something that is not JSON`, { cause })
    }
  }
  const nameFilter = (name: string): string => encodeURIComponent(JSON.stringify({
    predicates: [{ key: 'display_name', operation: 'EQUALS', string_value: name }]
  }))
  const ns = init.namespace !== undefined ? `&namespace=${encodeURIComponent(init.namespace)}` : ''
  const upload = (r: SubmitRequest): FormData => {
    const form = new FormData()
    form.append('uploadfile', new Blob([r.yaml], { type: 'application/x-yaml' }), `${r.pipelineName}.yaml`)
    return form
  }

  return {
    async submit (r) {
      const found = await call<{ pipelines?: Array<{ pipeline_id: string }> }>('GET', `/apis/v2beta1/pipelines?filter=${nameFilter(r.pipelineName)}${ns}`, undefined, r.signal)
      let pipelineId: string
      let versionId: string
      const existing = found.pipelines?.[0]
      if (existing === undefined) {
        const created = await call<{ pipeline_id: string }>('POST',
          `/apis/v2beta1/pipelines/upload?name=${encodeURIComponent(r.pipelineName)}&description=${encodeURIComponent(r.description)}${ns}`, upload(r), r.signal)
        pipelineId = created.pipeline_id
        const versions = await call<{ pipeline_versions?: Array<{ pipeline_version_id: string }> }>('GET',
          `/apis/v2beta1/pipelines/${encodeURIComponent(pipelineId)}/versions?page_size=1&sort_by=${encodeURIComponent('created_at desc')}`, undefined, r.signal)
        const v = versions.pipeline_versions?.[0]
        if (v === undefined) throw kaleError(KaleErrorCode.KFP_API, `Kubeflow Pipelines created pipeline ${pipelineId} but lists no version of it`)
        versionId = v.pipeline_version_id
      } else {
        pipelineId = existing.pipeline_id
        const v = await call<{ pipeline_version_id: string }>('POST',
          `/apis/v2beta1/pipelines/upload_version?name=${encodeURIComponent(r.versionName)}&pipelineid=${encodeURIComponent(pipelineId)}`, upload(r), r.signal)
        versionId = v.pipeline_version_id
      }
      const experiments = await call<{ experiments?: Array<{ experiment_id: string }> }>('GET', `/apis/v2beta1/experiments?filter=${nameFilter(r.experiment)}${ns}`, undefined, r.signal)
      let experimentId = experiments.experiments?.[0]?.experiment_id
      if (experimentId === undefined) {
        const exp = await call<{ experiment_id: string }>('POST', '/apis/v2beta1/experiments', {
          display_name: r.experiment, ...(init.namespace !== undefined ? { namespace: init.namespace } : {})
        }, r.signal)
        experimentId = exp.experiment_id
      }
      const run = await call<{ run_id: string }>('POST', '/apis/v2beta1/runs', {
        display_name: r.runName,
        experiment_id: experimentId,
        pipeline_version_reference: { pipeline_id: pipelineId, pipeline_version_id: versionId },
        runtime_config: { parameters: r.parameters }
      }, r.signal)
      return { pipelineId, pipelineVersionId: versionId, experimentId, runId: run.run_id, newVersion: existing !== undefined, runUrl: `${base}/#/runs/details/${run.run_id}` }
    }
  }
}
