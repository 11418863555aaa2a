/**
 * The OpenAPI document, built by @fastify/swagger from the same TypeBox schemas that
 * validate and serialize each route (TypeBox 1.x schemas are plain JSON Schema), served
 * as JSON at `/docs`.
 */
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

export interface DocsPluginOptions {
  title: string
  description: string
  version?: string
}

export const docsPlugin = fp(async function docs (app: FastifyInstance, opts: DocsPluginOptions) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: opts.title, version: opts.version ?? '1.0.0', description: opts.description },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }]
    }
  })
  app.get('/docs', { schema: { hide: true }, config: { rateLimit: false, public: true } }, async () => app.swagger())
}, { name: 'rok-docs' })
