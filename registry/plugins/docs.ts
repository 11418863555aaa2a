/**
 * The OpenAPI document, built by @fastify/swagger from the same TypeBox schemas that
 * validate and serialize each route (TypeBox 1.x schemas are plain JSON Schema with
 * non-enumerable markers, so they pass through unchanged), served as JSON at `/docs`.
 */
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

export const docsPlugin = fp(async function docs (app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rok registry',
        version: '1.0.0',
        description: 'Users, groups, ACLs, buckets, version references, nodes, grants and search. References only: the registry never holds chunk data.'
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }
      },
      security: [{ bearer: [] }]
    }
  })
  app.get('/docs', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger())
}, { name: 'rok-docs' })
