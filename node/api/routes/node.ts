/** Identity and status of the running node. */
import type { FastifyInstance } from 'fastify'
import { ErrorBody, NodeId, NodeStatus } from '../../../protocol/node-api.ts'

export interface NodeInfo {
  id: () => NodeId
  status: () => NodeStatus
}

export async function nodeRoutes (app: FastifyInstance, opts: { info: NodeInfo }): Promise<void> {
  app.get('/v1/id', { schema: { summary: "The node's peer ID, listen addresses and API URL", response: { 200: NodeId, 401: ErrorBody } } }, async () => opts.info.id())
  app.get('/v1/status', { schema: { summary: 'Uptime, connections, peers', response: { 200: NodeStatus, 401: ErrorBody } } }, async () => opts.info.status())
}
