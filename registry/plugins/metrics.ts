/**
 * Prometheus metrics at `/metrics`: request counts and latency by route and status, the
 * size of registry state, and the process defaults. A registry-local prom-client
 * `Registry`, so two registries in one process (tests) never share counters.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { RegistryState } from '../state.ts'

export const metricsPlugin = fp(async function metrics (app: FastifyInstance, opts: { state: RegistryState }) {
  const { state } = opts
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'rok_registry_' })
  const requests = new Counter({ name: 'rok_registry_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers: [registry] })
  const duration = new Histogram({
    name: 'rok_registry_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [registry]
  })
  const sizes = [
    ['users', () => state.users.size],
    ['groups', () => state.groups.size],
    ['buckets', () => state.buckets.size],
    ['nodes', () => state.nodes.size]
  ] as const
  for (const [what, count] of sizes) {
    new Gauge({ name: `rok_registry_${what}`, help: `${what} known to the registry`, registers: [registry], collect () { this.set(count()) } }) // eslint-disable-line no-new
  }

  app.addHook('onResponse', async (request, reply) => {
    // Unmatched URLs share one label so a scanner cannot blow up the label set.
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: reply.statusCode })
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  app.get('/metrics', {
    schema: { hide: true },
    config: { rateLimit: false }
  }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'rok-metrics' })
