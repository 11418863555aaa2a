/** Publish, subscribe, unsubscribe, sync, allow/deny and sync status routes. */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import {
  AllowBody, AllowOutcome, ErrorBody, PublishBody, SubscribeBody, SubscriptionStatus, SyncBody, SyncStatus, UnsubscribeOutcome,
  type SyncOperations
} from '../../../protocol/node-api.ts'
import { streamOperation } from '../ndjson.ts'

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody, 502: ErrorBody }
const ndjson = { 200: { description: 'NDJSON: progress lines, then a result or error line', content: { 'application/x-ndjson': { schema: Type.String() } } } }
const BucketParams = Type.Object({ group: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 64 }) })

export async function syncRoutes (app: FastifyInstance, opts: { sync: SyncOperations }): Promise<void> {
  const { sync } = opts
  app.post<{ Body: PublishBody }>('/v1/publish', {
    schema: { summary: 'Snapshot a folder as the next version of a bucket, announce it to subscribers and provide it in the DHT (NDJSON progress)', body: PublishBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await sync.publish(request.body, o)))

  app.post<{ Body: SubscribeBody }>('/v1/subscriptions', {
    schema: { summary: 'Follow a bucket published by the peer at an address, or (without `peer`, on a node with a registry) as the registry resolves it after checking the ACL and issuing a grant; syncing starts in the background', body: SubscribeBody, response: { 200: SubscriptionStatus, ...errors } }
  }, async request => await sync.subscribe(request.body))

  app.delete<{ Params: { group: string, name: string } }>('/v1/subscriptions/:group/:name', {
    schema: { summary: 'Stop following a bucket (its synced versions stay)', params: BucketParams, response: { 200: UnsubscribeOutcome, ...errors } }
  }, async request => await sync.unsubscribe(`${request.params.group}/${request.params.name}`))

  app.post<{ Body: SyncBody }>('/v1/sync', {
    schema: { summary: 'Sync a subscribed bucket now, up to the newest version any peer has (NDJSON progress)', body: SyncBody, response: { ...errors, ...ndjson } }
  }, async (request, reply) => streamOperation(request, reply, async o => await sync.sync(request.body, o)))

  app.post<{ Body: AllowBody }>('/v1/allow', {
    schema: { summary: "Let a peer fetch a bucket's versions from this node", body: AllowBody, response: { 200: AllowOutcome, ...errors } }
  }, async request => await sync.allow(request.body))

  app.post<{ Body: AllowBody }>('/v1/deny', {
    schema: { summary: 'Stop serving a bucket to a peer', body: AllowBody, response: { 200: AllowOutcome, ...errors } }
  }, async request => await sync.deny(request.body))

  app.get('/v1/sync/status', {
    schema: { summary: 'Subscriptions (lag, progress, last sync with bytes per peer and why), published buckets, bytes served', response: { 200: SyncStatus, ...errors } }
  }, async () => await sync.syncStatus())
}
