/**
 * Prometheus metrics at `/metrics`: request counts and latency by route and status, the
 * service's own gauges, and the process defaults. A service-local prom-client `Registry`,
 * so two services in one process (tests) never share counters.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface MetricsPluginOptions {
  /** Metric name prefix, e.g. `rok_node_`. */
  prefix: string
  /** Gauges read at scrape time: [name without prefix, help, read]. */
  gauges?: Array<[string, string, () => number]>
  /** Lets the service register its own counters on the same registry. */
  registry?: Registry
}

export const metricsPlugin = fp(async function metrics (app: FastifyInstance, opts: MetricsPluginOptions) {
  const registry = opts.registry ?? new Registry()
  collectDefaultMetrics({ register: registry, prefix: opts.prefix })
  const requests = new Counter({ name: `${opts.prefix}http_requests_total`, help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers: [registry] })
  const duration = new Histogram({
    name: `${opts.prefix}http_request_duration_seconds`,
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [registry]
  })
  for (const [name, help, read] of opts.gauges ?? []) {
    new Gauge({ name: `${opts.prefix}${name}`, help, registers: [registry], collect () { this.set(read()) } }) // eslint-disable-line no-new
  }
  app.addHook('onResponse', async (request, reply) => {
    // Unmatched URLs share one label so a scanner cannot blow up the label set.
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: reply.statusCode })
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false, public: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'rok-metrics' })
