/**
 * The node's local HTTP API as a fastify app: shared plugins (errors, OpenAPI, metrics),
 * then authentication, then routes. The CLI, the CSI driver and a UI talk to a running
 * node through it. `buildNodeApi` returns the app ready for `inject` (tests) or `listen`.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Registry } from 'prom-client'
import type { NodeOperations, SyncOperations } from '../../protocol/node-api.ts'
import { docsPlugin, errorsPlugin, metricsPlugin } from '../../server/index.ts'
import { authPlugin } from './auth.ts'
import { NodeApiErrorCode, statusForCode } from './errors.ts'
import { nodeRoutes, type NodeInfo } from './routes/node.ts'
import { volumeRoutes } from './routes/volumes.ts'
import { policyRoutes } from './routes/policy.ts'
import { syncRoutes } from './routes/sync.ts'
import { tierRoutes } from './routes/tier.ts'

export interface NodeApiInit {
  ops: NodeOperations
  /** Publish/subscribe/sync/allow; absent when the node runs no p2p host. */
  sync?: SyncOperations
  info: NodeInfo
  token: string
  /** Prometheus registry the node's own metrics are on. */
  metrics?: Registry
  gauges?: Array<[string, string, () => number]>
  logger?: FastifyServerOptions['logger']
  /** Largest accepted body. @default 65536 */
  bodyLimit?: number
}

export async function buildNodeApi (init: NodeApiInit): Promise<FastifyInstance> {
  const app = Fastify({ logger: init.logger ?? false, bodyLimit: init.bodyLimit ?? 64 * 1024, return503OnClosing: true })
  await app.register(errorsPlugin, {
    statusForCode,
    codes: {
      invalidRequest: NodeApiErrorCode.INVALID_REQUEST,
      notFound: NodeApiErrorCode.NOT_FOUND,
      bodyTooLarge: NodeApiErrorCode.BODY_TOO_LARGE,
      unsupportedMediaType: NodeApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
      rateLimited: NodeApiErrorCode.RATE_LIMITED,
      internal: NodeApiErrorCode.INTERNAL,
      unauthenticated: NodeApiErrorCode.UNAUTHENTICATED
    }
  })
  // After the error handler: a route takes the handler in force when it is added.
  await app.register(docsPlugin, { title: 'Rok node', description: "A Rok node's local API: snapshots, restores, buckets, sync and status. Used by the rok CLI." })
  await app.register(metricsPlugin, { prefix: 'rok_node_', registry: init.metrics, gauges: init.gauges })
  await app.register(authPlugin, { token: init.token })
  app.get('/healthz', { schema: { hide: true }, config: { public: true } }, async () => ({ ok: true }))
  await app.register(nodeRoutes, { info: init.info })
  await app.register(volumeRoutes, { ops: init.ops })
  await app.register(policyRoutes, { ops: init.ops })
  await app.register(tierRoutes, { ops: init.ops })
  if (init.sync !== undefined) await app.register(syncRoutes, { sync: init.sync })
  await app.ready()
  return app
}
