/** Snapshot, restore, diff, verify, gc and stats routes. */
import type { FastifyInstance } from 'fastify'
import { Type, type Static } from 'typebox'
import {
  BucketSummary, DiffOutcome, DiffQuery, ErrorBody, GcBody, RestoreBody, SnapshotBody, StoreStats, VerifyBody, VersionInfo,
  type NodeOperations
} from '../../../protocol/node-api.ts'
import { streamOperation } from '../ndjson.ts'

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody }
const ndjson = { 200: { description: 'NDJSON: progress lines, then a result or error line', content: { 'application/x-ndjson': { schema: Type.String() } } } }

export async function volumeRoutes (app: FastifyInstance, opts: { ops: NodeOperations }): Promise<void> {
  const { ops } = opts
  app.post<{ Body: SnapshotBody }>('/v1/snapshots', {
    schema: { summary: 'Snapshot a folder or image as the next version of a bucket (NDJSON progress)', body: SnapshotBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.snapshot(request.body, o)))

  app.post<{ Body: RestoreBody }>('/v1/restores', {
    schema: { summary: 'Restore a version into a new folder or file (NDJSON progress)', body: RestoreBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.restore(request.body, o)))

  app.post<{ Body: VerifyBody }>('/v1/verify', {
    schema: { summary: 'Check every block and every version; with repair, unindex corrupt blocks and mark broken versions for syncs to heal (NDJSON progress)', body: VerifyBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.verify(request.body ?? {}, o)))

  app.get<{ Querystring: Static<typeof DiffQuery> }>('/v1/diff', {
    schema: { summary: 'Paths added, removed and changed between two versions', querystring: DiffQuery, response: { 200: DiffOutcome, ...errors } }
  }, async request => await ops.diff(request.query.from, request.query.to))

  app.post<{ Body: Static<typeof GcBody> }>('/v1/gc', {
    schema: { summary: 'Two-phase gc: mark unreferenced blocks, sweep those marked longer than the grace period ago, compact packs (NDJSON progress; result: GcReport)', body: GcBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await ops.gc(request.body, o)))

  app.get('/v1/stats', { schema: { summary: 'Store size, versions, dedup ratio', response: { 200: StoreStats, ...errors } } }, async () => await ops.stats())

  app.get('/v1/buckets', { schema: { summary: 'Local buckets', response: { 200: Type.Array(BucketSummary), ...errors } } }, async () => await ops.buckets())

  app.get<{ Params: { group: string, name: string } }>('/v1/buckets/:group/:name/versions', {
    schema: {
      summary: 'Versions of a bucket, newest first',
      params: Type.Object({ group: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 64 }) }),
      response: { 200: Type.Array(VersionInfo), ...errors }
    }
  // The bucket name rule lives in one place (parseBucketName, applied by the buckets).
  }, async request => await ops.versions(`${request.params.group}/${request.params.name}`))
}
