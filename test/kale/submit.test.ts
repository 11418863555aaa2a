/**
 * `kale submit` against a small local stand-in for the Kubeflow Pipelines v2beta1 REST
 * API that records every request: upload (or new version), experiment, run.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { KaleErrorCode } from '../../kale/errors.ts'
import { EXAMPLES, kale } from './helpers.ts'

interface Recorded { method: string, path: string, query: URLSearchParams, headers: IncomingMessage['headers'], body: string }

let server: Server
let endpoint: string
let requests: Recorded[]
let pipelines: Array<{ pipeline_id: string, display_name: string }>
let experiments: Array<{ experiment_id: string, display_name: string }>

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x')
      const body = Buffer.concat(chunks).toString()
      requests.push({ method: req.method!, path: url.pathname, query: url.searchParams, headers: req.headers, body })
      const send = (status: number, value: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(value)) }
      const byName = <T extends { display_name: string }>(list: T[]): T[] => {
        const f = url.searchParams.get('filter')
        const name = f === null ? undefined : JSON.parse(f).predicates[0].string_value
        return list.filter(x => name === undefined || x.display_name === name)
      }
      const route = `${req.method} ${url.pathname}`
      if (route === 'GET /apis/v2beta1/pipelines') return send(200, { pipelines: byName(pipelines) })
      if (route === 'POST /apis/v2beta1/pipelines/upload') {
        const p = { pipeline_id: `p-${pipelines.length + 1}`, display_name: url.searchParams.get('name')! }
        pipelines.push(p)
        return send(200, p)
      }
      if (route === `GET /apis/v2beta1/pipelines/${pipelines.at(-1)?.pipeline_id}/versions`) return send(200, { pipeline_versions: [{ pipeline_version_id: 'v-default' }] })
      if (route === 'POST /apis/v2beta1/pipelines/upload_version') return send(200, { pipeline_version_id: 'v-new' })
      if (route === 'GET /apis/v2beta1/experiments') return send(200, { experiments: byName(experiments) })
      if (route === 'POST /apis/v2beta1/experiments') {
        const e = { experiment_id: `e-${experiments.length + 1}`, display_name: JSON.parse(body).display_name }
        experiments.push(e)
        return send(200, e)
      }
      if (route === 'POST /apis/v2beta1/runs') return send(200, { run_id: 'r-1' })
      send(404, { error: 'not found', message: `no route ${route}` })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => { await new Promise(resolve => server.close(resolve)) })
beforeEach(() => { requests = []; pipelines = []; experiments = [] })

describe('kale submit', () => {
  it('uploads a new pipeline, creates the experiment and starts a run with the parameters', async () => {
    const res = await kale(['submit', join(EXAMPLES, 'linear.ipynb'), '--endpoint', endpoint, '--param', 'n=7', '--token', 'secret', '--json'])
    assert.equal(res.code, 0, res.stderr)
    const out = JSON.parse(res.stdout)
    assert.deepEqual({ pipelineId: out.pipelineId, pipelineVersionId: out.pipelineVersionId, experimentId: out.experimentId, runId: out.runId, newVersion: out.newVersion },
      { pipelineId: 'p-1', pipelineVersionId: 'v-default', experimentId: 'e-1', runId: 'r-1', newVersion: false })
    assert.deepEqual(requests.map(r => `${r.method} ${r.path}`), [
      'GET /apis/v2beta1/pipelines',
      'POST /apis/v2beta1/pipelines/upload',
      'GET /apis/v2beta1/pipelines/p-1/versions',
      'GET /apis/v2beta1/experiments',
      'POST /apis/v2beta1/experiments',
      'POST /apis/v2beta1/runs'
    ])
    assert.ok(requests.every(r => r.headers.authorization === 'Bearer secret'))
    const upload = requests[1]
    assert.equal(upload.query.get('name'), 'linear')
    assert.match(upload.headers['content-type']!, /^multipart\/form-data; boundary=/)
    assert.match(upload.body, /name="uploadfile"; filename="linear.yaml"/)
    const yamlText = upload.body.slice(upload.body.indexOf('# PIPELINE DEFINITION'), upload.body.lastIndexOf('\r\n--'))
    assert.equal(parseAllDocuments(yamlText)[0].toJS().pipelineInfo.name, 'linear')
    assert.deepEqual(JSON.parse(requests[4].body), { display_name: 'examples' })
    const run = JSON.parse(requests[5].body)
    assert.deepEqual(run.pipeline_version_reference, { pipeline_id: 'p-1', pipeline_version_id: 'v-default' })
    assert.equal(run.experiment_id, 'e-1')
    assert.deepEqual(run.runtime_config.parameters, { n: 7, scale: 2 })
  })

  it('adds a new version when the pipeline already exists, and reuses the experiment', async () => {
    pipelines.push({ pipeline_id: 'p-9', display_name: 'linear' })
    experiments.push({ experiment_id: 'e-9', display_name: 'examples' })
    const res = await kale(['submit', join(EXAMPLES, 'linear.ipynb'), '--json'], { KFP_ENDPOINT: endpoint })
    assert.equal(res.code, 0, res.stderr)
    assert.equal(JSON.parse(res.stdout).newVersion, true)
    assert.deepEqual(requests.map(r => `${r.method} ${r.path}`), [
      'GET /apis/v2beta1/pipelines',
      'POST /apis/v2beta1/pipelines/upload_version',
      'GET /apis/v2beta1/experiments',
      'POST /apis/v2beta1/runs'
    ])
    assert.equal(requests[1].query.get('pipelineid'), 'p-9')
    assert.match(requests[1].query.get('name')!, /^linear-\d{8}-\d{6}-[0-9a-f]{6}$/)
    assert.deepEqual(JSON.parse(requests[3].body).pipeline_version_reference, { pipeline_id: 'p-9', pipeline_version_id: 'v-new' })
  })

  it('says clearly when no endpoint is configured', async () => {
    const res = await kale(['submit', join(EXAMPLES, 'linear.ipynb'), '--json'], { KFP_ENDPOINT: '' })
    assert.equal(res.code, 1)
    assert.equal(JSON.parse(res.stdout).error.code, KaleErrorCode.NO_ENDPOINT)
    assert.match(res.stderr, /no Kubeflow Pipelines endpoint: pass --endpoint URL or set KFP_ENDPOINT/)
  })

  it('reports the API’s status and message when it refuses', async () => {
    const res = await kale(['submit', join(EXAMPLES, 'linear.ipynb'), '--endpoint', `${endpoint}/wrong-prefix`])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /Kubeflow Pipelines GET \/apis\/v2beta1\/pipelines failed with HTTP 404: no route GET \/wrong-prefix\/apis\/v2beta1\/pipelines \[ERR_KALE_KFP_API\]/)
  })
})
