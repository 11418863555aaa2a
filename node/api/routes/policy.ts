/** Bucket policy, forget and pin routes (protocol/policy-api.ts). */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { ErrorBody } from '../../../protocol/node-api.ts'
import { ForgetBody, ForgetOutcome, PinBody, PolicyBody, PolicyInfo, RemovedOutcome, type PolicyOperations } from '../../../protocol/policy-api.ts'
import { RokError } from '../../../protocol/errors.ts'
import { NodeApiErrorCode } from '../errors.ts'

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody }
const BucketParams = Type.Object({ group: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 64 }) })

export async function policyRoutes (app: FastifyInstance, opts: { ops: PolicyOperations }): Promise<void> {
  const { ops } = opts
  app.get('/v1/policies', {
    schema: { summary: 'Every bucket policy on this node', response: { 200: Type.Array(PolicyInfo), ...errors } }
  }, async () => await ops.policies())

  app.get<{ Params: { group: string, name: string } }>('/v1/policies/:group/:name', {
    schema: { summary: "A bucket's policy, with its last and next scheduled run and pinned versions", params: BucketParams, response: { 200: PolicyInfo, ...errors } }
  }, async request => await ops.policy(`${request.params.group}/${request.params.name}`))

  app.put<{ Params: { group: string, name: string }, Body: PolicyBody }>('/v1/policies/:group/:name', {
    schema: { summary: "Set (replace) a bucket's policy: schedule, path, globs, publish, sharing, retention", params: BucketParams, body: PolicyBody, response: { 200: PolicyInfo, ...errors } }
  }, async request => {
    const bucket = `${request.params.group}/${request.params.name}`
    if (request.body.bucket !== bucket) throw new RokError(NodeApiErrorCode.INVALID_REQUEST, `body names bucket ${request.body.bucket}, the path ${bucket}`)
    return await ops.setPolicy(request.body)
  })

  app.delete<{ Params: { group: string, name: string } }>('/v1/policies/:group/:name', {
    schema: { summary: "Remove a bucket's policy (its versions and pins stay)", params: BucketParams, response: { 200: RemovedOutcome, ...errors } }
  }, async request => await ops.removePolicy(`${request.params.group}/${request.params.name}`))

  app.post<{ Body: ForgetBody }>('/v1/forget', {
    schema: { summary: 'Apply retention rules (or the policy) to a bucket: which versions are kept and why; remove the rest unless dryRun', body: ForgetBody, response: { 200: ForgetOutcome, ...errors } }
  }, async (request, reply) => {
    const controller = new AbortController()
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) controller.abort() })
    return await ops.forget(request.body, { signal: controller.signal })
  })

  app.post<{ Body: PinBody }>('/v1/pins', {
    schema: { summary: 'Pin a version (kept by every retention rule) or unpin it', body: PinBody, response: { 200: PinBody, ...errors } }
  }, async request => await ops.pin(request.body))
}
