/** Object-storage tier routes (protocol/tier-api.ts). */
import type { FastifyInstance } from 'fastify'
import { Type, type Static } from 'typebox'
import { ErrorBody } from '../../../protocol/node-api.ts'
import { TierListQuery, TierPullBody, TierPushBody, TierStatus, TierVersion, type TierOperations } from '../../../protocol/tier-api.ts'
import { streamOperation } from '../ndjson.ts'

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody, 503: ErrorBody }
const ndjson = { 200: { description: 'NDJSON: progress lines, then a result or error line', content: { 'application/x-ndjson': { schema: Type.String() } } } }

export async function tierRoutes (app: FastifyInstance, opts: { ops: TierOperations }): Promise<void> {
  const { ops } = opts
  app.get('/v1/tier', {
    schema: { summary: 'What the object-storage tier holds and which versions are not pushed yet', response: { 200: TierStatus, ...errors } }
  }, async () => await ops.tierStatus())

  app.post<{ Body: TierPushBody }>('/v1/tier/push', {
    schema: { summary: 'Upload every local version the tier lacks (NDJSON progress; result: TierPushReport)', body: TierPushBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.tierPush(request.body, o)))

  app.post<{ Body: TierPullBody }>('/v1/tier/pull', {
    schema: { summary: "Bring a version's records (and with data, its chunks) from the tier (NDJSON progress; result: TierPullReport)", body: TierPullBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.tierPull(request.body, o)))

  app.get<{ Querystring: Static<typeof TierListQuery> }>('/v1/tier/versions', {
    schema: { summary: 'Versions in the object store', querystring: TierListQuery, response: { 200: Type.Array(TierVersion), ...errors } }
  }, async request => await ops.tierList(request.query.bucket))

  app.post('/v1/tier/verify', {
    schema: { summary: "Check the tier's copy: every pack and every pushed version (NDJSON progress; result: TierVerifyReport)", response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.tierVerify(o)))
}
