/** Identity and status of the running node. */
import type { FastifyInstance } from 'fastify'
import { ErrorBody, NodeId, NodeStatus, PingBody, PingOutcome } from '../../../protocol/node-api.ts'

export interface NodeInfo {
  id: () => NodeId
  status: () => NodeStatus
  /** Dial and ping a peer; absent when the node runs no p2p host. */
  ping?: (peer: string, signal: AbortSignal) => Promise<PingOutcome>
}

export async function nodeRoutes (app: FastifyInstance, opts: { info: NodeInfo }): Promise<void> {
  app.get('/v1/id', { schema: { summary: "The node's peer ID, listen addresses and API URL", response: { 200: NodeId, 401: ErrorBody } } }, async () => opts.info.id())
  app.get('/v1/status', { schema: { summary: 'Uptime, connections, peers', response: { 200: NodeStatus, 401: ErrorBody } } }, async () => opts.info.status())
  const ping = opts.info.ping
  if (ping !== undefined) {
    app.post<{ Body: PingBody }>('/v1/peers/ping', { schema: { summary: 'Dial a peer and ping it (at most 10 s)', body: PingBody, response: { 200: PingOutcome, 400: ErrorBody, 401: ErrorBody } } }, async (req) => await ping(req.body.peer, AbortSignal.timeout(10_000)))
  }
}
