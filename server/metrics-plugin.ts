/**
 * Prometheus metrics at `/metrics`: request counts and latency by route and status, the
 * service's own gauges, and the process defaults. A service-local prom-client `Registry`,
 * so two services in one process (tests) never share counters.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { RouteMetrics } from './route-metrics.ts'

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
  const routes = new RouteMetrics(registry, opts.prefix, [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5, 30])
  for (const [name, help, read] of opts.gauges ?? []) {
    new Gauge({ name: `${opts.prefix}${name}`, help, registers: [registry], collect () { this.set(read()) } }) // eslint-disable-line no-new
  }
  // A callback hook: an async one costs a promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    // Unmatched URLs share one label so a scanner cannot blow up the label set.
    routes.record(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false, public: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'rok-metrics' })
